// The fp8 KV cache (vLLM's kv_cache_dtype fp8 / fp8_e4m3, and fp8_e5m2): keys and values are
// stored rounded to e4m3 (or e5m2), one byte each, and every attention kernel reads them widened
// (each kernel against its DSL reference with fp8 caches: test/kernels/attention,
// paged-attention-tiled, paged-decode, rope-kv-write). Here the whole forward pass: the CPU plan
// (tiled attention, panels) and the GPU plan run on CPU (split-K decode attention, GEMV linears)
// are two independent sets of kernels over the same fp8 cache, and agree to f32 rounding on a
// random llama; both differ from the f32 cache by e4m3's rounding of K and V, and by more with
// e5m2's one mantissa bit fewer. A checkpoint's per-layer k_scale / v_scale divide what the e4m3
// cache stores and multiply what attention reads (both plans again agree); powers of two barely
// change the result, scales of 256 push the values into e4m3's subnormals and lose precision (so
// the scales are taken on both sides), and an f32 cache ignores them. Through the engine,
// stories260K with an fp8 cache holds four times the f32 cache's tokens in the same budget, and 16
// prompts generated together (greedy) give each prompt's tokens alone, also with preemption forced
// by a small cache.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LLM } from "../../index.ts";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import type { KvCacheDType } from "../../runtime/model/compile-model.ts";
import type { CompiledModelRunner } from "../../runtime/model/compiled-runner.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { SingleSequence, softmax } from "../support/model-driver.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-fp8-kv-"));
const llamaDir = writeRandomModel({ arch: "llama", outDir: join(workDir, "llama"), dtype: "f32", seed: 5 }).hfDir;
const prompt = (length: number) => Array.from({ length }, (_, i) => 5 + ((i * 37) % 400));

/** Logits of every prompt position, then of three single-token steps after it. */
function run(runner: CompiledModelRunner, tokens: number[]): Float32Array[] {
  runner.initializeKvCache(8, 16);
  const seq = new SingleSequence(runner, 16, 8);
  return [seq.feed(tokens, true), ...[11, 250, 7].map((t) => seq.feed([t], true))];
}

/** The largest difference in probability between two runs' logits, row by row over `vocab` columns. */
function maxProbDiff(a: Float32Array[], b: Float32Array[], vocab: number): number {
  let worst = 0;
  a.forEach((logits, s) => {
    for (let r = 0; r < logits.length / vocab; r++) {
      const [pa, pb] = [softmax(logits.subarray(r * vocab, (r + 1) * vocab)), softmax(b[s].subarray(r * vocab, (r + 1) * vocab))];
      for (let i = 0; i < vocab; i++) worst = Math.max(worst, Math.abs(pa[i] - pb[i]));
    }
  });
  return worst;
}

test("llama: the CPU and GPU kernel plans over an e4m3 or e5m2 cache agree to f32 rounding, and differ from the f32 cache by the format's rounding", async () => {
  const loaded = await loadModel(llamaDir);
  const runner = (kernelPlan: "cpu" | "gpu", kvCacheDtype: KvCacheDType) => createModelRunner(loaded, { maxNumBatchedTokens: 70, threads: 1, kernelPlan, kvCacheDtype });
  const f32 = runner("cpu", "f32");
  const vocab = loaded.config.vocabSize;
  for (const length of [12, 40]) {
    const exact = run(f32, prompt(length));
    const rounding: Record<string, number> = {};
    for (const fp8 of ["fp8e4m3", "fp8e5m2"] as const) {
      const [cpu, gpu] = [runner("cpu", fp8), runner("gpu", fp8)];
      assert.is(cpu.config.dtypeBytes, 1);
      assert.is(gpu.config.dtypeBytes, 1);
      const fp8Cpu = run(cpu, prompt(length));
      const plans = maxProbDiff(fp8Cpu, run(gpu, prompt(length)), vocab);
      assert.ok(plans <= 1e-6, `${fp8}, ${length}-token prompt: CPU against GPU plan, max |probability difference| ${plans}`);
      rounding[fp8] = maxProbDiff(fp8Cpu, exact, vocab);
      assert.ok(rounding[fp8] > 1e-4 && rounding[fp8] <= 0.25, `${fp8}, ${length}-token prompt: against the f32 cache, max |probability difference| ${rounding[fp8]}`);
    }
    console.log(`  ${length}-token prompt, from the f32 cache: e4m3 ${rounding.fp8e4m3.toExponential(2)}, e5m2 ${rounding.fp8e5m2.toExponential(2)}`);
    assert.ok(rounding.fp8e5m2 > rounding.fp8e4m3, "e5m2 keeps one mantissa bit fewer than e4m3");
  }
});

test("llama: checkpoint KV cache scales divide the fp8 cache's values and multiply them back, in both plans, read at run time by one compiled addon; other caches ignore them", async () => {
  const loaded = await loadModel(llamaDir);
  const layers = loaded.config.numHiddenLayers;
  const runner = (kernelPlan: "cpu" | "gpu", kvCacheDtype: KvCacheDType, k: number, v: number) => {
    const config = { ...loaded.config, kvCacheScales: Array.from({ length: layers }, () => ({ k, v })) };
    return createModelRunner({ ...loaded, config }, { maxNumBatchedTokens: 70, threads: 1, kernelPlan, kvCacheDtype });
  };
  const vocab = loaded.config.vocabSize;
  const tokens = prompt(40);
  const scaledRunner = runner("cpu", "fp8e4m3", 0.25, 0.5);
  const unscaledRunner = runner("cpu", "fp8e4m3", 1, 1);
  // The scales are read at each step, not compiled in: one addon serves every checkpoint of the shape.
  assert.is(scaledRunner.artifact.addonPath, unscaledRunner.artifact.addonPath);
  const scaled = run(scaledRunner, tokens);
  const plans = maxProbDiff(scaled, run(runner("gpu", "fp8e4m3", 0.25, 0.5), tokens), vocab);
  // Powers of two commute with e4m3's rounding but in its subnormals: the scaled cache holds nearly the unscaled one's values.
  const unscaled = run(unscaledRunner, tokens);
  const powersOfTwo = maxProbDiff(scaled, unscaled, vocab);
  // Scales of 256 push the values into e4m3's subnormals (steps of 2^-9): the cache loses precision it had at scale 1.
  const f32 = run(runner("cpu", "f32", 256, 256), tokens);
  const [coarse, plain] = [maxProbDiff(run(runner("cpu", "fp8e4m3", 256, 256), tokens), f32, vocab), maxProbDiff(unscaled, f32, vocab)];
  const f32Unscaled = maxProbDiff(f32, run(runner("cpu", "f32", 1, 1), tokens), vocab);
  console.log(`  k_scale 0.25, v_scale 0.5: CPU vs GPU plan ${plans.toExponential(2)}, vs scale 1 ${powersOfTwo.toExponential(2)}; from the f32 cache: scales 256 ${coarse.toExponential(2)}, scale 1 ${plain.toExponential(2)}`);
  assert.ok(plans <= 1e-6, `CPU against GPU plan with scales: ${plans}`);
  assert.ok(powersOfTwo <= 0.1 * plain, `power-of-two scales against scale 1: ${powersOfTwo} (e4m3 rounding ${plain})`);
  assert.ok(coarse > 2 * plain, `scales of 256 lose precision: ${coarse} against ${plain} at scale 1`);
  assert.is(f32Unscaled, 0, "an f32 cache ignores the scales");
  // The native model takes exactly a k, v pair per layer.
  const short = createModelRunner({ ...loaded, config: { ...loaded.config, kvCacheScales: [{ k: 1, v: 1 }] } }, { maxNumBatchedTokens: 70, threads: 1, kvCacheDtype: "fp8e4m3" });
  assert.throws(() => short.initializeKvCache(8, 16), new RegExp(`kvCacheScales must be a Float64Array of ${2 * layers} values`));
});

const model = "../shared/models/stories260K-hf";
const starts = ["Once upon a time", "The little dog", "Lily and Ben", "One day, a girl", "Tom was sad", "The sun was hot", "A big red ball", "Mom said"];
const prompts = Array.from({ length: 16 }, (_, i) => `${starts[i % 8]}${" and then".repeat(i % 3)}`);
const params = { maxTokens: 24, temperature: 0 };

test("stories260K: an fp8 cache holds 4x the f32 cache's tokens in one budget, and batched greedy output equals each prompt's alone", async () => {
  const capacity = async (kvCacheDtype: "float32" | "fp8") => {
    const lines: string[] = [];
    const llm = await LLM.create({ model, kvCacheDtype, kvCacheMemoryBytes: 4 * 1024 * 1024, maxNumSeqs: 1024, logger: (m) => lines.push(m) });
    llm.close();
    return Number(/KV cache: (\d+) blocks/.exec(lines.join("\n"))![1]);
  };
  const [f32Blocks, fp8Blocks] = [await capacity("float32"), await capacity("fp8")];
  // A quarter of the bytes per block: 4x the blocks, give or take the f32 budget's remainder.
  assert.ok(f32Blocks > 0 && fp8Blocks >= 4 * f32Blocks && fp8Blocks < 4 * (f32Blocks + 1), `${fp8Blocks} fp8 blocks against ${f32Blocks} f32 ones`);

  const llm = await LLM.create({ model, kvCacheDtype: "fp8", maxNumSeqs: 16, logger: () => {} });
  const alone: number[][] = [];
  for (const p of prompts) alone.push((await llm.generate(p, params))[0].outputs[0].tokenIds);
  llm.close();
  for (const [name, numGpuBlocksOverride] of [["together", undefined], ["with preemption (33 KV blocks)", 33]] as const) {
    const batched = await LLM.create({ model, kvCacheDtype: "fp8", maxNumSeqs: 16, numGpuBlocksOverride, logger: () => {} });
    const together = await batched.generate(prompts, params);
    together.forEach((out, i) => assert.equal(out.outputs[0].tokenIds, alone[i], `${name}, prompt ${i}: ${prompts[i]}`));
    if (numGpuBlocksOverride) assert.ok(batched.stats().numPreemptions > 0, "the small cache forced preemptions");
    batched.close();
  }
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));
test.run();
