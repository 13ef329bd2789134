// Greedy outputs must not depend on what else is in the batch: 64 varied prompts generated
// together give, token for token, what each gives alone, with whole or chunked prefill and under
// forced preemption (recompute, or swap to host memory), and no block leaks at any step.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EngineArgs } from "../../runtime/engine/config.ts";
import { samplingParams } from "../../runtime/engine/types.ts";
import { checkBlockInvariants, drain, makeTestEngine, randomPrompts, testTokenizer } from "../support/engine-harness.ts";
import { ReferenceModelRunner } from "../support/engine-reference-model.ts";

const prompts = randomPrompts(64, 2024, 1, 70);
const params = (i: number) => samplingParams({ temperature: 0, maxTokens: 8 + (i % 17), ignoreEos: true });

function generateTogether(config: EngineArgs): { tokens: number[][]; preemptions: number; swapOuts: number; swappedBlocks: number } {
  const runner = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });
  const engine = makeTestEngine(config, runner);
  prompts.forEach((p, i) => engine.addRequest(`r${i}`, { promptTokenIds: p }, params(i)));
  const finals = drain(engine);
  checkBlockInvariants(engine);
  assert.is(engine.kvCacheManager.numFreeBlocks, engine.kvCacheManager.numBlocks, "every block is free at the end");
  assert.is(engine.kvCacheManager.swapSpace.numFreeBlocks, engine.kvCacheManager.swapSpace.numBlocks, "every swap block is free at the end");
  return {
    tokens: prompts.map((_, i) => finals.get(`r${i}`)?.outputs[0].tokenIds ?? []),
    preemptions: engine.stats().numPreemptions,
    swapOuts: engine.scheduler.numSwapOuts,
    swappedBlocks: runner.numSwappedBlocks,
  };
}

const alone = prompts.map((p, i) => {
  const engine = makeTestEngine({ enablePrefixCaching: false });
  engine.addRequest("solo", { promptTokenIds: p }, params(i));
  return drain(engine, false).get("solo")?.outputs[0].tokenIds ?? [];
});

test("each prompt alone produces its full greedy continuation", () => {
  alone.forEach((tokens, i) => assert.is(tokens.length, params(i).maxTokens));
  assert.ok(new Set(alone.map((t) => t.join(","))).size > 48, "outputs differ between prompts");
});

test("64 prompts batched together equal each prompt alone", () => {
  assert.equal(generateTogether({}).tokens, alone);
});

test("chunked prefill with a small token budget changes nothing", () => {
  assert.equal(generateTogether({ maxNumBatchedTokens: 24, maxNumSeqs: 16 }).tokens, alone);
});

test("forced preemption with a tiny KV cache changes nothing", () => {
  const { tokens, preemptions } = generateTogether({ numGpuBlocksOverride: 12, blockSize: 8, maxModelLen: 96 });
  assert.ok(preemptions > 0, `expected preemptions, got ${preemptions}`);
  assert.equal(tokens, alone);
});

test("forced preemption that swaps KV to host memory and back changes nothing", () => {
  const { tokens, preemptions, swapOuts, swappedBlocks } = generateTogether({ numGpuBlocksOverride: 12, blockSize: 8, maxModelLen: 96, preemptionMode: "swap" });
  assert.ok(preemptions > 0, `expected preemptions, got ${preemptions}`);
  assert.is(swapOuts, preemptions, "with room in the swap space every preemption swaps");
  assert.ok(swappedBlocks > 0);
  assert.equal(tokens, alone);
});

test("a swap space too small for some victims falls back to recompute for them and changes nothing", () => {
  // The reference model's blocks of 8 tokens hold 2 * 16 floats a token: 1 KiB; the swap space holds 3.
  const { tokens, preemptions, swapOuts } = generateTogether({ numGpuBlocksOverride: 12, blockSize: 8, maxModelLen: 96, preemptionMode: "swap", swapSpace: (3 * 1024) / 2 ** 30 });
  assert.ok(swapOuts > 0, "some victims fit the swap space");
  assert.ok(preemptions > swapOuts, `some did not: ${preemptions} preemptions, ${swapOuts} swaps`);
  assert.equal(tokens, alone);
});

test("priority scheduling with preemption changes nothing", () => {
  const { tokens, preemptions } = generateTogether({ numGpuBlocksOverride: 14, blockSize: 8, maxModelLen: 96, schedulingPolicy: "priority", maxNumBatchedTokens: 40 });
  assert.ok(preemptions > 0);
  assert.equal(tokens, alone);
});

test.run();
