// A seeded request samples the same tokens whatever else shares its batches, including when it is
// chunked, preempted and recomputed: its RNG state is (seed, sequence index, step), not the batch.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EngineArgs } from "../../runtime/engine/config.ts";
import { samplingParams } from "../../runtime/engine/types.ts";
import { drain, makeTestEngine, randomPrompts } from "../support/engine-harness.ts";

const prompts = randomPrompts(24, 31, 2, 40);
const seeded = (i: number) => samplingParams({ seed: 1000 + i, temperature: 0.9, topP: 0.95, topK: 50, maxTokens: 10, ignoreEos: true });

function together(config: EngineArgs, order: number[]) {
  const engine = makeTestEngine(config);
  for (const i of order) engine.addRequest(`r${i}`, { promptTokenIds: prompts[i] }, seeded(i));
  // Unseeded neighbours change the batch but must not change the seeded requests.
  for (let k = 0; k < 6; k++) engine.addRequest(`noise${k}`, { promptTokenIds: prompts[k] }, samplingParams({ temperature: 1, maxTokens: 7 }));
  const finals = drain(engine);
  return { tokens: prompts.map((_, i) => finals.get(`r${i}`)?.outputs[0].tokenIds), preemptions: engine.stats().numPreemptions };
}

const alone = prompts.map((p, i) => {
  const engine = makeTestEngine({});
  engine.addRequest("solo", { promptTokenIds: p }, seeded(i));
  return drain(engine, false).get("solo")?.outputs[0].tokenIds;
});

test("seeded requests sample the same tokens alone and in any batch", () => {
  const forward = [...prompts.keys()];
  assert.equal(together({}, forward).tokens, alone);
  assert.equal(together({ maxNumBatchedTokens: 16 }, forward.reverse()).tokens, alone);
});

test("seeded requests sample the same tokens across preemption and recompute", () => {
  const { tokens, preemptions } = together({ numGpuBlocksOverride: 10, blockSize: 8, maxModelLen: 64 }, [...prompts.keys()]);
  assert.ok(preemptions > 0);
  assert.equal(tokens, alone);
});

test("different seeds give different samples", () => {
  assert.ok(new Set(alone.map((t) => t?.join(","))).size > 20);
});

test.run();
