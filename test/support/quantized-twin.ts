// Shared by the quantized-checkpoint tests (gptq, fp8): a model's next-token distributions against
// its widened twin's (models/random/quantized-twin.ts), and loading a checkpoint after editing its
// config.json, expecting a load error.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as assert from "uvu/assert";
import { TsvllmError } from "../../runtime/errors.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import type { LoadedModel } from "../../runtime/loader/types.ts";
import { planModel } from "../../runtime/model/compile-model.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { SingleSequence, softmax } from "./model-driver.ts";

const prompt = Array.from({ length: 40 }, (_, i) => 3 + ((i * 37) % 400));

/** Distributions over a 40-token prompt (every position) and one decode step. */
function twinDistributions(model: LoadedModel, kernelPlan: "cpu" | "gpu"): Float64Array[] {
  const runner = createModelRunner(model, { maxNumBatchedTokens: 64, threads: 1, dtype: "f32", kernelPlan });
  runner.initializeKvCache(8, 16);
  const seq = new SingleSequence(runner, 16, 8);
  const vocab = runner.config.vocabSize;
  return [seq.feed(prompt, true), seq.feed([5], true)].flatMap((logits) => Array.from({ length: logits.length / vocab }, (_, r) => softmax(logits.subarray(r * vocab, (r + 1) * vocab))));
}

const maxDiff = (a: Float64Array[], b: Float64Array[]) => a.reduce((w, p, i) => p.reduce((m, v, t) => Math.max(m, Math.abs(v - b[i][t])), w), 0);

/**
 * Asserts that the quantized model gives its twin's distributions: within 1e-5 under the GPU kernel
 * plan (the quantized kernel, run here on CPU), within 1e-6 under the CPU plan (widened at load).
 */
export async function assertMatchesTwin(quantized: LoadedModel, widenedDir: string, label: string, kernel: string): Promise<void> {
  const twin = twinDistributions(await loadModel(widenedDir), "cpu");
  const onKernel = maxDiff(twinDistributions(quantized, "gpu"), twin);
  const widened = maxDiff(twinDistributions(quantized, "cpu"), twin);
  console.log(`  ${label}: max |Δp| ${onKernel.toExponential(2)} on the ${kernel}, ${widened.toExponential(2)} widened at load`);
  assert.ok(onKernel < 1e-5, `${kernel}: ${onKernel}`);
  assert.ok(widened < 1e-6, `widened: ${widened}`);
}

/**
 * fp8 W8A8 (dynamic activations): the GPU plan quantizes every fp8 linear's input to e4m3 per token,
 * so it departs from the twin by that rounding, within `bound` in probability (e4m3 keeps 3
 * mantissa bits: relative steps of 2^-4); the CPU plan widens the weights and still gives the
 * twin's distributions. A 40-token prompt (e4m3 tensor cores, matmulFp8Mma) and the same tokens
 * fed one at a time (the GEMV form, matmulFp8Rows) quantize each token's activations alike and
 * agree within `stepwiseBound`, the two kernels' summation orders apart. Returns the departure from the twin.
 */
export async function assertW8A8MatchesTwin(quantized: LoadedModel, widenedDir: string, label: string, bound: number, stepwiseBound: number): Promise<number> {
  const twin = twinDistributions(await loadModel(widenedDir), "cpu");
  const onKernel = maxDiff(twinDistributions(quantized, "gpu"), twin);
  const widened = maxDiff(twinDistributions(quantized, "cpu"), twin);
  const runner = createModelRunner(quantized, { maxNumBatchedTokens: 64, threads: 1, dtype: "f32", kernelPlan: "gpu" });
  runner.initializeKvCache(8, 16);
  const vocab = runner.config.vocabSize;
  const rows = (logits: Float32Array) => Array.from({ length: logits.length / vocab }, (_, r) => softmax(logits.subarray(r * vocab, (r + 1) * vocab)));
  const whole = rows(new SingleSequence(runner, 16, 8).feed(prompt, true));
  const single = new SingleSequence(runner, 16, 8);
  const stepwise = prompt.flatMap((token) => rows(single.feed([token], true)));
  const apart = maxDiff(whole, stepwise);
  console.log(`  ${label}: max |Δp| ${onKernel.toExponential(2)} W8A8 from the twin, ${widened.toExponential(2)} widened at load; a prompt at once vs token by token ${apart.toExponential(2)}`);
  assert.ok(onKernel < bound, `W8A8: ${onKernel}`);
  assert.ok(onKernel > 0, "activations are quantized");
  assert.ok(widened < 1e-6, `widened: ${widened}`);
  assert.ok(apart < stepwiseBound, `a prompt at once vs token by token: ${apart}`);
  return onKernel;
}

/**
 * Under the GPU kernel plan with bf16 weights, a 40-token prompt takes the tensor-core matmul: each
 * quantized linear's weights are first written out in bf16 (the format's dequantize kernel), the
 * very values the twin's f32 weights round to, so every prompt position's logits equal the twin's.
 * Returns the forward pass's source, for counting its launches.
 */
export async function assertPrefillMatchesTwin(quantized: LoadedModel, widenedDir: string, label: string): Promise<string> {
  const prefill = (model: LoadedModel) => {
    const runner = createModelRunner(model, { maxNumBatchedTokens: 64, threads: 1, dtype: "bf16", kernelPlan: "gpu" });
    runner.initializeKvCache(8, 16);
    return new SingleSequence(runner, 16, 8).feed(prompt, true);
  };
  const twin = prefill(await loadModel(widenedDir));
  const onTensorCores = prefill(quantized);
  const diff = onTensorCores.reduce((m, v, i) => Math.max(m, Math.abs(v - twin[i])), 0);
  console.log(`  ${label}: bf16 prefill on the tensor-core matmul, max |Δ logit| ${diff} from the twin's`);
  assert.is(diff, 0);
  return planModel(quantized.config, { kernelPlan: "gpu", dtype: "bf16" }).source;
}

/** Loads the checkpoint in `dir` after editing its config.json (restored afterwards), expecting a TsvllmError. */
export async function loadErrorAfterEdit(dir: string, edit: (config: Record<string, unknown>) => void): Promise<TsvllmError> {
  const path = join(dir, "config.json");
  const original = readFileSync(path, "utf8");
  const config = JSON.parse(original) as Record<string, unknown>;
  edit(config);
  writeFileSync(path, JSON.stringify(config));
  try {
    await loadModel(dir);
  } catch (e) {
    assert.instance(e, TsvllmError);
    return e as TsvllmError;
  } finally {
    writeFileSync(path, original);
  }
  throw new Error("the checkpoint loaded");
}
