// Greedy outputs must not depend on what else is in the batch: 64 varied prompts generated
// together give, token for token, what each gives alone, with whole or chunked prefill and under
// forced preemption, and no block leaks at any step.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EngineArgs } from "../../runtime/engine/config.ts";
import { samplingParams } from "../../runtime/engine/types.ts";
import { checkBlockInvariants, drain, makeTestEngine, randomPrompts } from "../support/engine-harness.ts";

const prompts = randomPrompts(64, 2024, 1, 70);
const params = (i: number) => samplingParams({ temperature: 0, maxTokens: 8 + (i % 17), ignoreEos: true });

function generateTogether(config: EngineArgs): { tokens: number[][]; preemptions: number } {
  const engine = makeTestEngine(config);
  prompts.forEach((p, i) => engine.addRequest(`r${i}`, { promptTokenIds: p }, params(i)));
  const finals = drain(engine);
  checkBlockInvariants(engine);
  assert.is(engine.kvCacheManager.numFreeBlocks, engine.kvCacheManager.numBlocks, "every block is free at the end");
  return { tokens: prompts.map((_, i) => finals.get(`r${i}`)?.outputs[0].tokenIds ?? []), preemptions: engine.stats().numPreemptions };
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

test("priority scheduling with preemption changes nothing", () => {
  const { tokens, preemptions } = generateTogether({ numGpuBlocksOverride: 14, blockSize: 8, maxModelLen: 96, schedulingPolicy: "priority", maxNumBatchedTokens: 40 });
  assert.ok(preemptions > 0);
  assert.equal(tokens, alone);
});

test.run();
