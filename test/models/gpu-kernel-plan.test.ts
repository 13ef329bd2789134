// The GPU kernel plan (ForwardConfig.kernelPlan "gpu": weights as stored, a GEMV-shaped kernel
// under 16 rows, f16/bf16 activations cast for the tensor-core matmulMma from 16 rows up, split-K
// attention on decode steps) rendered to C++ and run on CPU, against the CPU plan (panels, tiled
// attention) on the same random checkpoint. A 12-token prompt and the single-token steps after it
// take the GEMV branch, which computes in f32 like the CPU plan: the distributions agree to f32
// rounding. So do three sequences of 3, 5 and 7 tokens decoding together into their second block
// (one token each per step: split-K attention over blocks that end in different places, some
// splits empty). Prompts of 24 and 70 tokens with logits at every position take the tensor-core
// branch (32- and 64-row tiles) for every linear and the LM head; the cast rounds each activation to the weights' dtype (f16 2^-11,
// bf16 2^-8 relative), so they agree within that rounding, and differ. qwen2 adds the bias variant.
// Those runs hold the cache in f32; by default the GPU plan holds it in the weights' dtype, and its
// decode steps agree within that rounding. The GPU-plan forwards of a bf16 Mixtral (MoE launches
// included), of a bf16 Gemma-3 (sliding and global layers) and of a bf16 GPT-OSS (attention sinks,
// merged with the split-K partials on decode steps; biased experts) agree with the CPU plan's on
// their GEMV-branch steps.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { compileModel } from "../../runtime/model/compile-model.ts";
import type { CompiledModelRunner } from "../../runtime/model/compiled-runner.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { BatchedGreedy, SingleSequence, softmax } from "../support/model-driver.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-gpu-plan-"));
const prompt = (length: number) => Array.from({ length }, (_, i) => 5 + ((i * 37) % 400));
const steps = [11, 250, 7];

/** Logits of every prompt position, then of each single-token step after it. */
function run(runner: CompiledModelRunner, tokens: number[]): Float32Array[] {
  runner.initializeKvCache(8, 16);
  const seq = new SingleSequence(runner, 16, 8);
  return [seq.feed(tokens, true), ...steps.map((t) => seq.feed([t], true))];
}

/** Logits of three prompts fed together, then of 20 lockstep steps of one token per sequence. */
function runBatch(runner: CompiledModelRunner): Float32Array[] {
  runner.initializeKvCache(12, 16);
  const batch = new BatchedGreedy(runner, 16, 4);
  const prompts = [prompt(3), prompt(5), prompt(7)];
  const lengths = prompts.map((p) => p.length);
  const logits = [runner.execute(batch.input(prompts, lengths))];
  for (let i = 0; i < 20; i++) {
    lengths.forEach((_, s) => lengths[s]++);
    logits.push(runner.execute(batch.input(prompts.map((_, s) => [(i * 53 + s * 7) % 400]), lengths)));
  }
  return logits;
}

/** The largest difference in probability between two logits blocks of `vocab` columns. */
function maxProbDiff(a: Float32Array, b: Float32Array, vocab: number): number {
  let worst = 0;
  for (let r = 0; r < a.length / vocab; r++) {
    const pa = softmax(a.subarray(r * vocab, (r + 1) * vocab));
    const pb = softmax(b.subarray(r * vocab, (r + 1) * vocab));
    for (let i = 0; i < vocab; i++) worst = Math.max(worst, Math.abs(pa[i] - pb[i]));
  }
  return worst;
}

for (const [arch, dtype, tensorCoreTolerance] of [["llama", "f16", 2e-3], ["qwen2", "bf16", 1e-2]] as const) {
  test(`${arch} ${dtype}: the GPU matmul plan on CPU gives the CPU plan's distributions (tensor-core prefill, GEMV decode)`, async () => {
    const { hfDir } = writeRandomModel({ arch, outDir: join(workDir, `${arch}-${dtype}`), dtype, seed: 5 });
    const loaded = await loadModel(hfDir);
    const source = compileModel(loaded.config, { kernelPlan: "gpu" }).program.source;
    assert.ok(source.includes("if (a.numTokens > 32) {  // linear") && source.includes("on tensor cores"), "prefill linears take the tensor-core branch");
    assert.ok(source.includes("if (a.numTokens >= 16 && a.numTokens <= 32) {  // linear"), "with 32-row tiles up to 32 rows");
    assert.ok(source.includes("if (a.numLogitRows > 32) {  // linear"), "so does the LM head over 32 logits rows");
    assert.ok(source.includes("if (a.numTokens < 16) {  // linear"), "decode takes the GEMV branch");
    assert.ok(source.includes("if (a.numTokens == a.numSeqs) {  // layer 0: decode attention, split-K"), "decode steps take split-K attention");
    assert.ok(source.includes("if (a.numTokens != a.numSeqs) {  // layer 0: paged attention"), "other steps the tiled attention");
    // An f32 cache under both plans, so the GEMV branch can be held to f32 rounding.
    const runner = (kernelPlan: "cpu" | "gpu") => createModelRunner(loaded, { maxNumBatchedTokens: 70, threads: 1, kernelPlan, kvCacheDtype: "f32" });
    const [gpu, cpu] = [runner("gpu"), runner("cpu")];
    const vocab = loaded.config.vocabSize;
    const short = [run(gpu, prompt(12)), run(cpu, prompt(12))];
    short[0].forEach((logits, s) => {
      const diff = maxProbDiff(logits, short[1][s], vocab);
      assert.ok(diff <= 1e-6, `GEMV branch, ${s === 0 ? "prompt" : `step ${s}`}: max |probability difference| ${diff}`);
    });
    const batched = [runBatch(gpu), runBatch(cpu)];
    batched[0].forEach((logits, s) => {
      const diff = maxProbDiff(logits, batched[1][s], vocab);
      assert.ok(diff <= 1e-6, `three sequences, ${s === 0 ? "prompts" : `decode step ${s}`}: max |probability difference| ${diff}`);
    });
    for (const length of [24, 70]) {
      const [ours, panels] = [run(gpu, prompt(length)), run(cpu, prompt(length))];
      const prefill = maxProbDiff(ours[0], panels[0], vocab);
      assert.ok(prefill > 0 && prefill <= tensorCoreTolerance, `tensor-core branch, ${length === 24 ? "32" : "64"}-row tiles: max |probability difference| ${prefill}`);
    }
    // By default the GPU plan keeps the cache in the weights' dtype, as vLLM does: half the bytes,
    // and decode steps that read keys and values rounded to it.
    const halfCache = createModelRunner(loaded, { maxNumBatchedTokens: 70, threads: 1, kernelPlan: "gpu" });
    assert.is(halfCache.artifact.dtypes.kvCache, dtype);
    assert.is(halfCache.config.dtypeBytes, 2);
    const rounded = run(halfCache, prompt(12));
    rounded.slice(1).forEach((logits, s) => {
      const diff = maxProbDiff(logits, short[1][s + 1], vocab);
      assert.ok(diff > 0 && diff <= tensorCoreTolerance, `${dtype} cache, step ${s + 1}: max |probability difference| ${diff}`);
    });
  });
}

for (const [arch, what, marker] of [
  ["mixtral", "MoE launches included", "// MoE model.layers.0.block_sparse_moe: route to 2 of 4 experts"],
  // Window 16: the batch's decode steps reach 27 tokens, so split-K attention skips whole blocks on the sliding layer.
  ["gemma3", "a sliding layer on its local RoPE table beside a global one", '"rope.invFreq.local"'],
  ["gpt_oss", "attention sinks and biased experts", '"model.layers.1.self_attn.sinks"'],
] as const) {
  test(`${arch} bf16: the GPU plan's forward, ${what}, gives the CPU plan's distributions on its GEMV steps`, async () => {
    const { hfDir } = writeRandomModel({ arch, outDir: join(workDir, `${arch}-bf16`), dtype: "bf16", seed: 5 });
    const loaded = await loadModel(hfDir);
    const source = compileModel(loaded.config, { kernelPlan: "gpu" }).program.source;
    assert.ok(source.includes(marker), what);
    const runner = (kernelPlan: "cpu" | "gpu") => createModelRunner(loaded, { maxNumBatchedTokens: 70, threads: 1, kernelPlan, kvCacheDtype: "f32" });
    const [gpu, cpu] = [runner("gpu"), runner("cpu")];
    const vocab = loaded.config.vocabSize;
    const [ours, panels] = [run(gpu, prompt(12)), run(cpu, prompt(12))];
    ours.forEach((logits, s) => assert.ok(maxProbDiff(logits, panels[s], vocab) <= 1e-6, `${s === 0 ? "prompt" : `step ${s}`}`));
    const [batchedOurs, batchedPanels] = [runBatch(gpu), runBatch(cpu)];
    batchedOurs.forEach((logits, s) => assert.ok(maxProbDiff(logits, batchedPanels[s], vocab) <= 1e-6, `three sequences, ${s === 0 ? "prompts" : `decode step ${s}`}`));
  });
}

test.after(() => rmSync(workDir, { recursive: true, force: true }));
test.run();
