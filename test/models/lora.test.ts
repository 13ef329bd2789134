// Multi-LoRA end to end on a tiny random LLaMA (f32, grouped-query attention): PEFT adapters
// written by models/random/lora-adapter.ts, run through the compiled model's LoRA slots, against
// two oracles: llama.cpp applying the same adapter in its GGUF form (convert_lora_to_gguf.py's
// layout) to the base GGUF, and the adapter merged into the weights (W + scaling B A, computed in
// float64 by test/support/lora-merge.ts) run as a plain model. Also: a batch mixing three adapters and
// the base model with two slots equals each request run alone; prefix caching never shares
// blocks between adapters; adapters the kernels cannot run are refused with the field that asks.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { phi3LoraModules, writeRandomLoraAdapter } from "../../models/random/lora-adapter.ts";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { LLM } from "../../runtime/engine/llm.ts";
import { samplingParams, type RequestOutput, type SamplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { LoRARequest } from "../../runtime/lora/lora-request.ts";
import { loadCompiledModel } from "../../runtime/model/model-loader.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { loadPeftAdapter } from "../../runtime/lora/peft-adapter.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { openOracle } from "../oracles/llamacpp.ts";
import { checkBlockInvariants } from "../support/engine-harness.ts";
import { SingleSequence, softmax } from "../support/model-driver.ts";
import { mergeLoraIntoFolder } from "../support/lora-merge.ts";

const dir = mkdtempSync(join(tmpdir(), "tsvllm-lora-"));
const base = writeRandomModel({ arch: "llama", outDir: join(dir, "base"), seed: 11, dtype: "f32" });
const adapters = {
  all: writeRandomLoraAdapter({ outDir: join(dir, "all"), config: base.config, rank: 8, alpha: 16, seed: 1, gguf: true }),
  attention: writeRandomLoraAdapter({ outDir: join(dir, "attention"), config: base.config, rank: 4, alpha: 6, seed: 2, targetModules: ["q_proj", "k_proj", "v_proj"], useRslora: true, bStd: 0.2, gguf: true }),
  mlp: writeRandomLoraAdapter({ outDir: join(dir, "mlp"), config: base.config, rank: 16, alpha: 8, seed: 3, targetModules: ["gate_proj", "down_proj"], bStd: 0.1 }),
};
const requests = { all: new LoRARequest("all", 1, adapters.all), attention: new LoRARequest("attention", 2, adapters.attention), mlp: new LoRARequest("mlp", 3, adapters.mlp) };
const options = { maxNumSeqs: 8, maxNumBatchedTokens: 64, maxModelLen: 256, logger: () => {}, loadModel: loadCompiledModel };
const withLora = await LLM.create({ model: base.hfDir, enableLora: true, maxLoras: 2, maxLoraRank: 16, ...options });
const plain = await LLM.create({ model: base.hfDir, ...options });
const prompts = ["Once upon a time", "The little dog ran to the park and", "Lily and Tom went to"];
const greedy: Partial<SamplingParams> = { temperature: 0, maxTokens: 12, logprobs: 0, ignoreEos: true };

const tokens = (outputs: RequestOutput[]) => outputs.map((o) => o.outputs[0].tokenIds);

/** The chosen tokens' log-probs, per prompt and position. */
const chosenLogprobs = (outputs: RequestOutput[]) => outputs.map((o) => o.outputs[0].logprobs!.map((p, i) => p.get(o.outputs[0].tokenIds[i])!.logprob));

for (const name of ["all", "attention", "mlp"] as const) {
  test(`adapter "${name}" gives the merged model's tokens and log-probs`, async () => {
    const mergedDir = join(dir, `merged-${name}`);
    mergeLoraIntoFolder(base.hfDir, adapters[name], mergedDir);
    const merged = await LLM.create({ model: mergedDir, ...options });
    const expected = await merged.generate(prompts, greedy);
    const actual = await withLora.generate(prompts, greedy, { loraRequest: requests[name] });
    assert.equal(tokens(actual), tokens(expected));
    const [a, e] = [chosenLogprobs(actual), chosenLogprobs(expected)];
    const worst = Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - e[i][j]))));
    assert.ok(worst < 1e-4, `log-probs differ by ${worst}`);
    assert.not.equal(tokens(await plain.generate(prompts, greedy)), tokens(expected), "the adapter changes the answers");
  });
}

for (const name of ["all", "attention"] as const) {
  test(`llama.cpp running adapter "${name}" (its GGUF form, on the base GGUF) gives tsvllm's next-token distributions`, async () => {
    const oracle = await openOracle(base.ggufPath!, { contextSize: 256, loraPath: join(adapters[name], "adapter.gguf") });
    const ids = oracle.tokenize("Once upon a time, there was a little girl named Lily. She loved to play outside in the sun.", true);
    const expected = await oracle.nextTokenDistributions(ids);
    await oracle.dispose();
    const runner = createModelRunner(await loadModel(base.hfDir), { maxNumBatchedTokens: 64, threads: 1, lora: { maxLoras: 2, maxLoraRank: 16 } });
    runner.initializeKvCache(8, 16);
    runner.lora!.setSlot(1, loadPeftAdapter(requests[name], 16));
    const logits = runner.execute({ ...new SingleSequence(runner, 16, 8).next(ids, true), loraSlots: new Int32Array(ids.length).fill(1) });
    const vocab = runner.config.vocabSize;
    let worst = 0;
    ids.forEach((_, i) => softmax(logits.subarray(i * vocab, (i + 1) * vocab)).forEach((p, v) => (worst = Math.max(worst, Math.abs(p - expected[i][v])))));
    assert.ok(worst < 1e-4, `max |Δp| = ${worst}`);
  });
}

test("a 16-bit model keeps adapters in 16-bit tables: the distributions of f32 tables, within their rounding", async () => {
  const half = writeRandomModel({ arch: "llama", outDir: join(dir, "f16"), seed: 11, dtype: "f16" });
  const ids = Array.from({ length: 40 }, (_, i) => 5 + ((i * 37) % 400));
  const distributions = async (dtype: "auto" | "f32") => {
    const runner = createModelRunner(await loadModel(half.hfDir), { maxNumBatchedTokens: 64, threads: 1, dtype, lora: { maxLoras: 2, maxLoraRank: 16 } });
    runner.initializeKvCache(8, 16);
    runner.lora!.setSlot(0, loadPeftAdapter(requests.all, 16));
    const logits = runner.execute({ ...new SingleSequence(runner, 16, 8).next(ids, true), loraSlots: new Int32Array(ids.length) });
    const vocab = runner.config.vocabSize;
    return { tables: runner.artifact.weights.find((w) => w.lora)!.lora!.dtype, probabilities: ids.map((_, i) => softmax(logits.subarray(i * vocab, (i + 1) * vocab))) };
  };
  const [f16, f32] = [await distributions("auto"), await distributions("f32")];
  assert.equal([f16.tables, f32.tables], ["f16", "f32"]);
  let worst = 0;
  f16.probabilities.forEach((row, i) => row.forEach((p, v) => (worst = Math.max(worst, Math.abs(p - f32.probabilities[i][v])))));
  console.log(`  f16 vs f32 LoRA tables: max |Δp| ${worst.toExponential(2)}`);
  assert.ok(worst < 1e-3, `max |Δp| = ${worst}`);
});

test("offline beam search of width 1 under an adapter is its greedy answer", async () => {
  const [beam] = await withLora.beamSearch(prompts[0], { beamWidth: 1, maxTokens: 12, ignoreEos: true }, { loraRequest: requests.mlp });
  const [greedyAnswer] = tokens(await withLora.generate(prompts[0], greedy, { loraRequest: requests.mlp }));
  assert.equal(beam.sequences[0].tokenIds, greedyAnswer);
  assert.not.equal(beam.sequences[0].tokenIds, tokens(await withLora.generate(prompts[0], greedy))[0]);
});

test("Phi-3, whose checkpoint and adapters hold q/k/v and gate/up fused: an adapter on them gives the merged model's tokens and log-probs", async () => {
  const phi3 = writeRandomModel({ arch: "phi3", outDir: join(dir, "phi3"), seed: 4, dtype: "f32" });
  const adapter = writeRandomLoraAdapter({ outDir: join(dir, "phi3-adapter"), config: phi3.config, rank: 8, alpha: 16, seed: 5, targetModules: phi3LoraModules, bStd: 0.1 });
  mergeLoraIntoFolder(phi3.hfDir, adapter, join(dir, "phi3-merged"));
  const expected = await (await LLM.create({ ...options, model: join(dir, "phi3-merged") })).generate(prompts, greedy);
  const actual = await (await LLM.create({ ...options, model: phi3.hfDir, enableLora: true, maxLoras: 1, maxLoraRank: 8 })).generate(prompts, greedy, { loraRequest: new LoRARequest("phi3", 1, adapter) });
  assert.equal(tokens(actual), tokens(expected));
  const [a, e] = [chosenLogprobs(actual), chosenLogprobs(expected)];
  assert.ok(Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - e[i][j])))) < 1e-4);
});

test("without an adapter the LoRA-compiled model gives the base model's answers", async () => {
  assert.equal(tokens(await withLora.generate(prompts, greedy)), tokens(await plain.generate(prompts, greedy)));
});

const mix = [requests.all, requests.attention, null, requests.mlp, requests.all, null, requests.mlp, requests.attention];
const batchPrompts = mix.map((_, i) => `${prompts[i % prompts.length]} ${"and then ".repeat(i % 3)}`);
const alone: number[][] = [];

test("a batch of three adapters and the base model over two slots equals each request alone", async () => {
  for (let i = 0; i < mix.length; i++) alone.push(...tokens(await withLora.generate([batchPrompts[i]], greedy, { loraRequest: mix[i] })));
  const loadsBefore = withLora.engine.lora!.numSlotLoads;
  const readsBefore = withLora.engine.lora!.numLoads;
  const together = await withLora.generate(batchPrompts, greedy, { loraRequest: mix });
  assert.equal(tokens(together), alone);
  // Three adapters never fit two slots at once: at least one is written again after another.
  assert.ok(withLora.engine.lora!.numSlotLoads - loadsBefore >= 1);
  // Host memory keeps maxCpuLoras (here maxLoras, 2) adapters: the third was read again from its folder.
  assert.ok(withLora.engine.lora!.numLoads - readsBefore >= 1);
  assert.equal(withLora.engine.listLoras().map((l) => l.loraName).sort(), ["all", "attention", "mlp"]);
  checkBlockInvariants(withLora.engine);
  assert.is(withLora.engine.kvCacheManager.numFreeBlocks, withLora.engine.kvCacheManager.numBlocks);
});

test("the same batch with 16-token chunks and a 6-block KV cache (preempting) still equals each request alone", async () => {
  const tight = await LLM.create({ ...options, model: base.hfDir, enableLora: true, maxLoras: 2, maxLoraRank: 16, maxNumBatchedTokens: 16, numGpuBlocksOverride: 6, maxModelLen: 64 });
  assert.equal(tokens(await tight.generate(batchPrompts, greedy, { loraRequest: mix })), alone);
  assert.ok(tight.engine.stats().numPreemptions > 0, "the cache is small enough to preempt");
  checkBlockInvariants(tight.engine);
  assert.is(tight.engine.kvCacheManager.numFreeBlocks, tight.engine.kvCacheManager.numBlocks);
  tight.close();
});

test("a request whose adapter has no free slot waits while the base-model request behind it runs", async () => {
  const engine = withLora.engine;
  for (const request of Object.values(requests)) await engine.addLora(request);
  const prompt = { promptTokenIds: [3, 4, 5, 6] };
  const params = samplingParams({ temperature: 0, maxTokens: 4 });
  const order = [requests.all, requests.attention, requests.mlp, null];
  order.forEach((lora, i) => engine.addRequest(`slot-${i}`, prompt, params, { loraRequest: lora }));
  engine.step();
  assert.equal(engine.scheduler.running.map((s) => s.request.requestId), ["slot-0", "slot-1", "slot-3"]);
  assert.equal([...engine.scheduler.waiting].map((s) => s.request.requestId), ["slot-2"]);
  const finished = new Set<string>();
  while (engine.hasUnfinishedRequests()) for (const output of engine.step()) if (output.finished) finished.add(output.requestId);
  assert.is(finished.size, 4);
  checkBlockInvariants(engine);
});

test("prefix caching: an adapter reuses its own cached prompt blocks, never the base model's or another adapter's", async () => {
  const prompt = { promptTokenIds: Array.from({ length: 40 }, (_, i) => 3 + ((i * 7) % 200)) };
  const once: Partial<SamplingParams> = { temperature: 0, maxTokens: 1 };
  const hitsAfter = async (lora: LoRARequest | null) => {
    const before = withLora.engine.stats().prefixCacheHits;
    await withLora.generate([prompt], once, { loraRequest: lora });
    return withLora.engine.stats().prefixCacheHits - before;
  };
  assert.is(await hitsAfter(null), 0);
  assert.is(await hitsAfter(requests.all), 0, "the base model's blocks are not the adapter's");
  assert.is(await hitsAfter(requests.attention), 0, "nor another adapter's");
  assert.is(await hitsAfter(requests.all), 32, "its own two full blocks are");
  assert.is(await hitsAfter(null), 32);
});

const refused = async (write: (adapterDir: string) => void, code: TsvllmError["code"], param: string) => {
  const adapterDir = mkdtempSync(join(dir, "bad-"));
  write(adapterDir);
  try {
    await withLora.generate(prompts, greedy, { loraRequest: new LoRARequest(`bad-${param}`, 90 + param.length, adapterDir) });
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).code, code, (error as Error).message);
    assert.is((error as TsvllmError).param, param, (error as Error).message);
    return;
  }
  assert.unreachable(`an adapter with a bad ${param} was accepted`);
};
const editConfig = (adapterDir: string, change: Record<string, unknown>) => {
  writeRandomLoraAdapter({ outDir: adapterDir, config: base.config, rank: 4, alpha: 8 });
  const path = join(adapterDir, "adapter_config.json");
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, "utf8")), ...change }));
};

test("adapters the engine cannot run are refused, naming the field", async () => {
  await refused((d) => writeRandomLoraAdapter({ outDir: d, config: base.config, rank: 32, alpha: 8 }), "TSVLLM_ERR_INVALID_ARGUMENT", "r");
  await refused((d) => editConfig(d, { use_dora: true }), "TSVLLM_ERR_INVALID_ARGUMENT", "use_dora");
  await refused((d) => editConfig(d, { bias: "lora_only" }), "TSVLLM_ERR_INVALID_ARGUMENT", "bias");
  await refused((d) => editConfig(d, { modules_to_save: ["lm_head"] }), "TSVLLM_ERR_INVALID_ARGUMENT", "modules_to_save");
  await refused((d) => editConfig(d, { r: 5 }), "TSVLLM_ERR_MODEL_FILE", "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  await refused((d) => mkdirSync(d, { recursive: true }), "TSVLLM_ERR_MODEL_FILE", "lora_path");
  const wide = { ...base.config, hidden_size: base.config.hidden_size * 2 };
  await refused((d) => writeRandomLoraAdapter({ outDir: d, config: wide, rank: 4, alpha: 8, targetModules: ["o_proj"] }), "TSVLLM_ERR_INVALID_ARGUMENT", "model.layers.0.self_attn.o_proj");
});

test("a LoRA request to an engine without enableLora is refused", async () => {
  try {
    await plain.generate(prompts, greedy, { loraRequest: requests.all });
    assert.unreachable("accepted");
  } catch (error) {
    assert.is((error as TsvllmError).code, "TSVLLM_ERR_INVALID_ARGUMENT");
  }
  assert.is(plain.engine.numUnfinishedRequests, 0);
});

test("an adapter cannot be removed while a request runs it; an unknown one is refused and holds nothing", async () => {
  const engine = withLora.engine;
  await engine.addLora(requests.all);
  const params = samplingParams({ temperature: 0, maxTokens: 4 });
  assert.throws(() => engine.addRequest("unknown", { promptTokenIds: [3, 4] }, params, { loraRequest: new LoRARequest("ghost", 77, adapters.all) }), (e: unknown) => (e as TsvllmError).param === "lora_request");
  assert.throws(() => engine.addRequest("renamed", { promptTokenIds: [3, 4] }, params, { loraRequest: new LoRARequest("other", requests.all.loraIntId, adapters.all) }), (e: unknown) => (e as TsvllmError).param === "lora_int_id");
  assert.is(engine.numUnfinishedRequests, 0);
  engine.addRequest("live", { promptTokenIds: [3, 4] }, params, { loraRequest: requests.all });
  assert.throws(() => engine.removeLora(requests.all.loraIntId), (e: unknown) => (e as TsvllmError).param === "lora_int_id");
  engine.abortRequest("live");
  assert.ok(engine.removeLora(requests.all.loraIntId));
  assert.not.ok(engine.listLoras().some((l) => l.loraIntId === requests.all.loraIntId));
  assert.not.ok(engine.removeLora(requests.all.loraIntId));
  checkBlockInvariants(engine);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
