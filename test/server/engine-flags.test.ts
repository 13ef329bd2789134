// The engine flags serve, generate, chat and bench share (cli/engine-options.ts,
// cli/checkpoint-options.ts), as vLLM spells them: each value reaches the LLM options, a bad value is
// an error naming the flag, and a flag that changes nothing here says so in one notice.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseFlags } from "../../cli/args.ts";
import { engineFlags, llmOptions } from "../../cli/engine-options.ts";
import { TsvllmError } from "../../runtime/errors.ts";

const options = (...argv: string[]) => llmOptions(parseFlags(argv, engineFlags).values, () => {});
const named = (flag: string) => (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_INVALID_ARGUMENT" && e.param === flag;

/** The options and the notices printed while reading them. */
function withNotices(...argv: string[]) {
  const notices: string[] = [];
  return { o: llmOptions(parseFlags(argv, engineFlags).values, (m) => notices.push(m)), notices };
}

test("--device cuda --gpu-memory-utilization 0.8 --enforce-eager", () => {
  const o = options("--model", "m", "--device", "cuda", "--gpu-memory-utilization", "0.8", "--enforce-eager");
  assert.is(o.device, "cuda");
  assert.is(o.gpuMemoryUtilization, 0.8);
  assert.is(o.enforceEager, true);
});

test("without them: device auto, vLLM's utilization default left to the loader, graphs on", () => {
  const o = options("--model", "m");
  assert.is(o.device, "auto");
  assert.is(o.gpuMemoryUtilization, undefined);
  assert.is(o.enforceEager, undefined);
});

test("a utilization outside (0, 1] names the flag", () => {
  for (const bad of ["0", "1.5", "most"]) {
    assert.throws(() => options("--model", "m", "--device", "cuda", "--gpu-memory-utilization", bad), (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_INVALID_ARGUMENT" && e.param === "gpu-memory-utilization");
  }
});

test("--quantization fp8 reaches the options; other methods name the flag", () => {
  assert.is(options("--model", "m", "--quantization", "fp8").quantization, "fp8");
  assert.is(options("--model", "m").quantization, undefined);
  assert.throws(() => options("--model", "m", "--quantization", "awq"), (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_INVALID_ARGUMENT" && e.param === "quantization" && /not supported \(fp8 is\)/.test(e.message));
});

test("--preemption-mode swap --swap-space 2 reach the options; recompute and vLLM's 4 GiB by default; bad values name the flag", () => {
  const o = options("--model", "m", "--preemption-mode", "swap", "--swap-space", "2");
  assert.is(o.preemptionMode, "swap");
  assert.is(o.swapSpace, 2);
  const plain = options("--model", "m");
  assert.is(plain.preemptionMode, undefined);
  assert.is(plain.swapSpace, undefined);
  assert.throws(() => options("--model", "m", "--preemption-mode", "spill"), named("preemption-mode"));
  for (const bad of ["--swap-space=-1", "--swap-space=lots"]) assert.throws(() => options("--model", "m", bad), named("swap-space"));
});

test("--speculative-config takes vLLM's JSON with snake_case keys; bad JSON and unknown keys name the flag", () => {
  const o = options("--model", "m", "--speculative-config", '{"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 3, "disable_by_batch_size": 8}');
  assert.equal(o.speculativeConfig, { method: "ngram", numSpeculativeTokens: 4, promptLookupMax: 3, disableByBatchSize: 8 });
  assert.is(options("--model", "m").speculativeConfig, undefined);
  const named = (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_INVALID_ARGUMENT" && e.param === "speculative-config";
  for (const bad of ["{method: ngram}", "[1]", '{"method": "ngram", "draft_model": "x"}']) assert.throws(() => options("--model", "m", `--speculative-config=${bad}`), named);
});

test("--reasoning-config takes vLLM's think_start_str/think_end_str (or reasoning_start_str/reasoning_end_str); missing or empty strings name the flag", () => {
  const expected = { thinkStartStr: "<seed:think>", thinkEndStr: "</seed:think>" };
  assert.equal(options("--model", "m", "--reasoning-config", '{"think_start_str": "<seed:think>", "think_end_str": "</seed:think>"}').reasoningConfig, expected);
  assert.equal(options("--model", "m", "--reasoning-config", '{"reasoning_start_str": "<seed:think>", "reasoning_end_str": "</seed:think>"}').reasoningConfig, expected);
  assert.is(options("--model", "m").reasoningConfig, undefined);
  for (const bad of ['{"think_start_str": "<think>"}', '{"think_start_str": "", "think_end_str": "</think>"}', '{"think_start": "<think>"}']) {
    assert.throws(() => options("--model", "m", `--reasoning-config=${bad}`), named("reasoning-config"));
  }
});

test("--kv-cache-dtype: auto by default, a float dtype by name, anything else names the flag", () => {
  assert.is(options("--model", "m").kvCacheDtype, "auto");
  assert.is(options("--model", "m", "--kv-cache-dtype", "bfloat16").kvCacheDtype, "bfloat16");
  assert.is(options("--model", "m", "--kv-cache-dtype", "fp8").kvCacheDtype, "fp8");
  assert.is(options("--model", "m", "--kv-cache-dtype", "fp8_e4m3").kvCacheDtype, "fp8_e4m3");
  assert.is(options("--model", "m", "--kv-cache-dtype", "fp8_e5m2").kvCacheDtype, "fp8_e5m2");
  assert.throws(() => options("--model", "m", "--kv-cache-dtype", "fp8_e3m4"), (e: unknown) => e instanceof TsvllmError && e.param === "kv-cache-dtype" && /must be auto, float32, float16, bfloat16, fp8, fp8_e4m3 or fp8_e5m2; got "fp8_e3m4"/.test(e.message));
});

test("--pooler-config (and vLLM's deprecated --override-pooler-config) reach poolerConfig; use_activation is normalize; bad fields name the flag", () => {
  assert.equal(options("--model", "m", "--pooler-config", '{"pooling_type": "MEAN", "normalize": false}').poolerConfig, { poolingType: "MEAN", normalize: false });
  assert.equal(options("--model", "m", "--override-pooler-config", '{"pooling_type": "CLS", "use_activation": true}').poolerConfig, { poolingType: "CLS", normalize: true });
  assert.is(options("--model", "m").poolerConfig, undefined);
  for (const bad of ['{"pooling_type": "MAX"}', '{"normalize": "yes"}', '{"softmax": true}', "MEAN"]) {
    assert.throws(() => options("--model", "m", "--pooler-config", bad), (e: unknown) => e instanceof TsvllmError && e.param === "pooler-config", bad);
  }
});

test("--generation-config and --override-generation-config reach the options; the override must be a JSON object", () => {
  assert.is(options("--model", "m", "--generation-config", "vllm").generationConfig, "vllm");
  assert.equal(options("--model", "m", "--override-generation-config", '{"temperature": 0.5, "max_new_tokens": 64}').overrideGenerationConfig, { temperature: 0.5, max_new_tokens: 64 });
  assert.is(options("--model", "m").generationConfig, undefined);
  for (const bad of ["0.5", "[1]", "{temperature: 1}"]) {
    assert.throws(() => options("--model", "m", "--override-generation-config", bad), (e: unknown) => e instanceof TsvllmError && e.param === "override-generation-config", bad);
  }
});

test("--tokenizer, --tokenizer-revision, --revision and --download-dir reach tokenizerPath, tokenizerRevision, revision and downloadDir", () => {
  const o = options("--model", "m.gguf", "--tokenizer", "org/tok", "--tokenizer-revision", "v2", "--revision", "abc123", "--download-dir", "/data/hf");
  assert.is(o.tokenizerPath, "org/tok");
  assert.is(o.tokenizerRevision, "v2");
  assert.is(o.revision, "abc123");
  assert.is(o.downloadDir, "/data/hf");
  const plain = options("--model", "m");
  assert.equal([plain.tokenizerPath, plain.tokenizer, plain.revision, plain.downloadDir], [undefined, undefined, undefined, undefined]);
});

test("--trust-remote-code is accepted with one notice that no remote code runs", () => {
  const { o, notices } = withNotices("--model", "m", "--trust-remote-code");
  assert.is(notices.length, 1);
  assert.match(notices[0], /--trust-remote-code changes nothing: tsvllm runs no code from a model repo/);
  assert.is(o.model, "m");
  assert.equal(withNotices("--model", "m").notices, []);
});

test("--load-format: auto, safetensors and gguf as the model path agrees; others and mismatches name the flag", () => {
  for (const [model, format] of [["m", "auto"], ["m", "safetensors"], ["m.gguf", "gguf"], ["m.gguf", "auto"]]) assert.is(options("--model", model, "--load-format", format).model, model);
  assert.throws(() => options("--model", "m", "--load-format", "pt"), (e: unknown) => named("load-format")(e) && /pt is not supported.*use auto, safetensors or gguf/.test((e as Error).message));
  assert.throws(() => options("--model", "m", "--load-format", "gguf"), named("load-format"));
  assert.throws(() => options("--model", "m.gguf", "--load-format", "safetensors"), named("load-format"));
});

test("--hf-overrides is a JSON object reaching hfOverrides; anything else names the flag", () => {
  assert.equal(options("--model", "m", "--hf-overrides", '{"max_position_embeddings": 128, "rope_theta": 5e5}').hfOverrides, { max_position_embeddings: 128, rope_theta: 500000 });
  for (const bad of ["128", "[1]", "{max_position_embeddings: 1}"]) assert.throws(() => options("--model", "m", "--hf-overrides", bad), named("hf-overrides"), bad);
});

test("--disable-sliding-window reaches disableSlidingWindow", () => {
  assert.is(options("--model", "m", "--disable-sliding-window").disableSlidingWindow, true);
  assert.is(options("--model", "m").disableSlidingWindow, undefined);
});

test("--enable-chunked-prefill / --no-enable-chunked-prefill set enableChunkedPrefill; both at once name the flag", () => {
  assert.is(options("--model", "m", "--enable-chunked-prefill").enableChunkedPrefill, true);
  assert.is(options("--model", "m", "--no-enable-chunked-prefill").enableChunkedPrefill, false);
  assert.is(options("--model", "m").enableChunkedPrefill, undefined);
  assert.throws(() => options("--model", "m", "--enable-chunked-prefill", "--no-enable-chunked-prefill"), named("no-enable-chunked-prefill"));
});

test("--max-num-partial-prefills 1 is accepted; more names the flag, as this scheduler part-prefills one prompt at a time", () => {
  assert.is(options("--model", "m", "--max-num-partial-prefills", "1").model, "m");
  for (const bad of ["2", "0", "many"]) assert.throws(() => options("--model", "m", "--max-num-partial-prefills", bad), named("max-num-partial-prefills"), bad);
});

test("--scheduling-policy fcfs|priority reaches schedulingPolicy; others name the flag", () => {
  assert.is(options("--model", "m", "--scheduling-policy", "priority").schedulingPolicy, "priority");
  assert.is(options("--model", "m", "--scheduling-policy", "fcfs").schedulingPolicy, "fcfs");
  assert.is(options("--model", "m").schedulingPolicy, undefined);
  assert.throws(() => options("--model", "m", "--scheduling-policy", "lifo"), named("scheduling-policy"));
});

test("--max-logprobs reaches maxLogprobs (-1 for the whole vocabulary, 0 for none); others name the flag", () => {
  assert.is(options("--model", "m", "--max-logprobs", "64").maxLogprobs, 64);
  assert.is(options("--model", "m", "--max-logprobs=-1").maxLogprobs, -1);
  assert.is(options("--model", "m", "--max-logprobs", "0").maxLogprobs, 0);
  assert.is(options("--model", "m").maxLogprobs, undefined);
  for (const bad of ["--max-logprobs=-2", "--max-logprobs=1.5", "--max-logprobs=all"]) assert.throws(() => options("--model", "m", bad), named("max-logprobs"), bad);
});

test("--stream-interval reaches streamInterval (vLLM's engine default that requests' stream_interval only raises); others name the flag", () => {
  assert.is(options("--model", "m", "--stream-interval", "8").streamInterval, 8);
  assert.is(options("--model", "m").streamInterval, undefined);
  for (const bad of ["0", "-1", "1.5", "often"]) assert.throws(() => options("--model", "m", `--stream-interval=${bad}`), named("stream-interval"), bad);
});

test("--disable-log-stats is an engine flag (serve skips its periodic stats line)", () => {
  assert.is(parseFlags(["--model", "m", "--disable-log-stats"], engineFlags).values["disable-log-stats"], true);
});

test("--cuda-graph-sizes and --cudagraph-capture-sizes are accepted with a notice naming them; --max-seq-len-to-capture, gone from vLLM, is unknown", () => {
  for (const flag of ["--cuda-graph-sizes", "--cudagraph-capture-sizes"]) {
    const { notices } = withNotices("--model", "m", flag, "8");
    assert.is(notices.length, 1);
    assert.ok(notices[0].startsWith(`${flag} is ignored`), notices[0]);
  }
  assert.throws(() => parseFlags(["--model", "m", "--max-seq-len-to-capture", "8192"], engineFlags), /Unknown option '--max-seq-len-to-capture'/);
});

test.run();
