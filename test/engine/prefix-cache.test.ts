// Automatic prefix caching end to end: a request that shares a prefix with an earlier one reuses
// its blocks (counted in tokens) and produces exactly what it produces with caching off.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { samplingParams } from "../../runtime/engine/types.ts";
import { checkBlockInvariants, drain, makeTestEngine, randomPrompts } from "../support/engine-harness.ts";

const [system] = randomPrompts(1, 5, 40, 40);
const questions = randomPrompts(6, 6, 3, 12);
const params = samplingParams({ temperature: 0, maxTokens: 12, ignoreEos: true });

function run(enablePrefixCaching: boolean) {
  const engine = makeTestEngine({ enablePrefixCaching, blockSize: 8 });
  const outputs: number[][] = [];
  const firstBlocks: number[][] = [];
  for (const [i, q] of questions.entries()) {
    const request = engine.addRequest(`q${i}`, { promptTokenIds: [...system, ...q] }, params);
    engine.step();
    firstBlocks.push(request.sequences[0].blockTable.slice(0, 5));
    outputs.push(drain(engine).get(`q${i}`)?.outputs[0].tokenIds ?? []);
  }
  return { engine, outputs, firstBlocks };
}

test("later requests reuse the shared prefix's blocks and give identical outputs", () => {
  const cached = run(true);
  const uncached = run(false);
  assert.equal(cached.outputs, uncached.outputs);
  for (const blocks of cached.firstBlocks.slice(1)) assert.equal(blocks, cached.firstBlocks[0], "the 5 full system-prompt blocks are the same blocks");
  const stats = cached.engine.stats();
  const promptTokens = questions.reduce((sum, q) => sum + system.length + q.length, 0);
  assert.is(stats.prefixCacheQueries, promptTokens);
  assert.is(stats.prefixCacheHits, 5 * 8 * (questions.length - 1));
  assert.is(uncached.engine.stats().prefixCacheHits, 0);
  checkBlockInvariants(cached.engine);
});

test("requests running concurrently share the cached prefix blocks by reference", () => {
  const engine = makeTestEngine({ blockSize: 8 });
  engine.addRequest("first", { promptTokenIds: [...system, ...questions[0]] }, params);
  engine.step();
  const others = questions.slice(1).map((q, i) => engine.addRequest(`q${i}`, { promptTokenIds: [...system, ...q] }, params));
  engine.step();
  const shared = others[0].sequences[0].blockTable[0];
  assert.is(engine.kvCacheManager.refCount(shared), questions.length);
  checkBlockInvariants(engine);
  drain(engine);
  assert.is(engine.kvCacheManager.numFreeBlocks, engine.kvCacheManager.numBlocks);
});

test("a request's numCachedTokens is its prefix-cache hit at first scheduling, in whole blocks", () => {
  const engine = makeTestEngine({ blockSize: 8 });
  const prompt = [...system, ...questions[0]];
  engine.addRequest("first", { promptTokenIds: prompt }, params);
  assert.is(drain(engine).get("first")!.numCachedTokens, 0);
  const hitsBefore = engine.stats().prefixCacheHits;
  engine.addRequest("repeat", { promptTokenIds: prompt }, params);
  const repeat = drain(engine).get("repeat")!;
  // Every full block but the one holding the last prompt token, which must be computed for logits.
  const expected = Math.floor((prompt.length - 1) / 8) * 8;
  assert.is(repeat.numCachedTokens, expected);
  assert.is(engine.stats().prefixCacheHits - hitsBefore, expected);
});

test.run();
