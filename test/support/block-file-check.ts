// Shared by the GGUF block-format tests (gguf-kquants, gguf-mxfp4): a model loaded from a file of
// blocks against llama.cpp on its twin file holding the decoded values as F32, over a prompt step
// and single-token steps, and llama.cpp on the blocks against itself on the twin.
import * as assert from "uvu/assert";
import type { LoadedModel } from "../../runtime/loader/types.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { openOracle } from "../oracles/llamacpp.ts";
import { SingleSequence, softmax } from "./model-driver.ts";

const story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. One day, she saw a big red ball in the park.";

/** Largest |p - q| over every position and token. */
function maxProbDiff(ours: ArrayLike<number>[], theirs: ArrayLike<number>[]): number {
  let worst = 0;
  ours.forEach((p, i) => {
    for (let t = 0; t < p.length; t++) worst = Math.max(worst, Math.abs(p[t] - theirs[i][t]));
  });
  return worst;
}

async function llamaCpp(path: string): Promise<{ ids: number[]; distributions: Float32Array[] }> {
  const oracle = await openOracle(path, { contextSize: 256 });
  try {
    const ids = oracle.tokenize(story, true).slice(0, 32);
    return { ids, distributions: await oracle.nextTokenDistributions(ids) };
  } finally {
    await oracle.dispose();
  }
}

/**
 * tsvllm on `loaded` (the block file, in f32) gives llama.cpp's distributions on the widened file
 * within 1e-5; llama.cpp reading the blocks itself (8-bit activations) stays within 8e-2 of them.
 */
export async function assertBlocksMatchLlamaCpp(loaded: LoadedModel, blocksPath: string, widenedPath: string, label: string): Promise<void> {
  const onWidened = await llamaCpp(widenedPath);
  const onBlocks = await llamaCpp(blocksPath);
  const runner = createModelRunner(loaded, { maxNumBatchedTokens: 64, threads: 1, dtype: "f32" });
  runner.initializeKvCache(8, 16);
  // A 20-token prompt step (the kernels' tiled path), then one token a step (their decode path).
  const sequence = new SingleSequence(runner, 16, 8);
  const steps = [sequence.feed(onWidened.ids.slice(0, 20), true), ...onWidened.ids.slice(20).map((id) => sequence.feed([id], true))];
  const vocab = runner.config.vocabSize;
  const ours = steps.flatMap((logits) => Array.from({ length: logits.length / vocab }, (_, i) => softmax(logits.subarray(i * vocab, (i + 1) * vocab))));
  const exact = maxProbDiff(ours, onWidened.distributions);
  const llamaCppGap = maxProbDiff(onBlocks.distributions, onWidened.distributions);
  console.log(`  ${label}: max |Δp| ${exact.toExponential(2)} vs llama.cpp on the widened weights; llama.cpp blocks vs widened ${llamaCppGap.toExponential(2)}`);
  assert.ok(exact < 1e-5, `vs the widened weights: ${exact}`);
  assert.ok(llamaCppGap < 8e-2, `llama.cpp on the blocks vs on the values the loader decodes them to: ${llamaCppGap}`);
}
