// The engine flags serve, generate, chat and bench share (cli/engine-options.ts), as vLLM spells
// them: the CUDA ones (--device cuda, --gpu-memory-utilization, --enforce-eager) reach the LLM
// options, and a utilization outside (0, 1] is an error naming the flag.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseFlags } from "../../cli/args.ts";
import { engineFlags, llmOptions } from "../../cli/engine-options.ts";
import { TsvllmError } from "../../runtime/errors.ts";

const options = (...argv: string[]) => llmOptions(parseFlags(argv, engineFlags).values);

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
  const named = (flag: string) => (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_INVALID_ARGUMENT" && e.param === flag;
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

test.run();
