// Preemption by swapping (preemptionMode "swap"): a preempted sequence's computed KV moves to host
// swap blocks and back instead of being recomputed. The block manager's moves are checked block by
// block, and whole engines over the reference model (whose caches start as NaN and whose swap
// blocks are poisoned once read back) must give the outputs of runs that never preempt.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { KVCacheManager, type BlockOwner } from "../../runtime/engine/block-manager.ts";
import type { ModelRunner } from "../../runtime/engine/model-runner.ts";
import { samplingParams, type SamplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { checkBlockInvariants, drain, makeTestEngine, randomPrompts, testTokenizer } from "../support/engine-harness.ts";
import { ReferenceModelRunner } from "../support/engine-reference-model.ts";

function owner(numTokens: number): BlockOwner {
  const tokenIds = Array.from({ length: numTokens }, (_, i) => 100 + i);
  return { tokenIds, numComputedTokens: 0, blockTable: [], blockHashes: [], numCachedBlocks: 0, swappedBlockTable: [], cacheSalt: null, skipPrefixCache: false };
}

/** Allocates and "computes" all of the owner's tokens, as a whole-prompt step would. */
function compute(kv: KVCacheManager, o: BlockOwner): void {
  assert.ok(kv.allocateSlots(o, o.tokenIds.length));
  o.numComputedTokens = o.tokenIds.length;
  kv.cacheFullBlocks(o);
}

test("swapOut moves the computed blocks to the swap space and frees the device blocks; swapIn brings them back", () => {
  const kv = new KVCacheManager({ numBlocks: 8, blockSize: 4, enablePrefixCaching: false, numSwapBlocks: 4 });
  const a = owner(10);
  compute(kv, a);
  const device = [...a.blockTable];
  assert.ok(kv.canSwapOut(a));
  kv.swapOut(a);
  assert.equal(a.blockTable, []);
  assert.is(a.swappedBlockTable.length, 3, "ceil(10 / 4) blocks");
  assert.is(kv.numFreeBlocks, 8);
  assert.is(kv.swapSpace.numFreeBlocks, 1);
  assert.equal(kv.takeBlockSwaps().swapOut, device.map((src, i) => ({ src, dst: a.swappedBlockTable[i] })));
  const held = [...a.swappedBlockTable];
  assert.ok(kv.canSwapIn(a, 1));
  kv.swapIn(a);
  kv.allocate(a, 1);
  assert.is(a.blockTable.length, 3, "token 11 still fits the third block");
  assert.equal(a.swappedBlockTable, []);
  assert.is(kv.swapSpace.numFreeBlocks, 1, "the swap blocks stay held until the step's swaps are taken");
  assert.equal(kv.takeBlockSwaps().swapIn, held.map((src, i) => ({ src, dst: a.blockTable[i] })));
  assert.is(kv.swapSpace.numFreeBlocks, 4);
});

test("canSwapOut refuses a sequence the swap space cannot hold, and canSwapIn counts the blocks the next tokens need", () => {
  const kv = new KVCacheManager({ numBlocks: 4, blockSize: 4, enablePrefixCaching: false, numSwapBlocks: 2 });
  const big = owner(12);
  compute(kv, big);
  assert.not.ok(kv.canSwapOut(big), "3 blocks, 2 swap blocks");
  const small = owner(8);
  kv.free(big);
  compute(kv, small);
  kv.swapOut(small);
  kv.takeBlockSwaps();
  const other = owner(12);
  compute(kv, other);
  assert.is(kv.numFreeBlocks, 1);
  assert.not.ok(kv.canSwapIn(small, 1), "2 blocks back, none free");
  kv.free(other);
  assert.ok(kv.canSwapIn(small, 8), "2 blocks back and 2 for 8 more tokens");
  assert.not.ok(kv.canSwapIn(small, 9));
});

test("swapIn takes full blocks still in the prefix cache back as they are and moves only the rest", () => {
  const kv = new KVCacheManager({ numBlocks: 8, blockSize: 4, enablePrefixCaching: true, numSwapBlocks: 8 });
  const a = owner(10);
  compute(kv, a);
  const [first, second] = a.blockTable;
  kv.swapOut(a);
  assert.is(kv.takeBlockSwaps().swapOut.length, 3, "everything goes out: the cache may evict it");
  kv.swapIn(a);
  assert.equal(a.blockTable.slice(0, 2), [first, second], "the cached full blocks are reused");
  assert.is(a.numCachedBlocks, 2);
  const { swapIn } = kv.takeBlockSwaps();
  assert.is(swapIn.length, 1, "only the partly filled block comes back from the swap space");
  assert.is(swapIn[0].dst, a.blockTable[2]);
  assert.is(kv.swapSpace.numFreeBlocks, 8);
});

test("a sequence swapped out while its copy-on-write is pending swaps out the shared block it was to copy", () => {
  const kv = new KVCacheManager({ numBlocks: 8, blockSize: 4, enablePrefixCaching: false, numSwapBlocks: 4 });
  const parent = owner(6);
  compute(kv, parent);
  const child = owner(6);
  kv.fork(parent, child);
  const shared = parent.blockTable[1];
  kv.allocate(child, 1);
  const copy = child.blockTable[1];
  assert.is.not(copy, shared, "the partly filled block is copied before the child writes it");
  kv.swapOut(child);
  assert.equal(kv.takeBlockCopies(), [], "the copy into a freed block is void");
  const { swapOut } = kv.takeBlockSwaps();
  assert.equal(swapOut.map((s) => s.src), [parent.blockTable[0], shared]);
});

const prompts = randomPrompts(16, 4242, 4, 40);
const seeded = (i: number, n: number): SamplingParams => samplingParams({ n, seed: 500 + i, temperature: 0.9, topK: 40, maxTokens: 12, ignoreEos: true });

function generate(config: Parameters<typeof makeTestEngine>[0], n: number) {
  const runner = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });
  const engine = makeTestEngine({ blockSize: 4, maxModelLen: 64, ...config }, runner);
  prompts.forEach((p, i) => engine.addRequest(`r${i}`, { promptTokenIds: p }, seeded(i, n)));
  let swappedSeen = 0;
  let swapUsage = 0;
  const finals = new Map<string, string[]>();
  while (engine.hasUnfinishedRequests()) {
    for (const output of engine.step()) if (output.finished) finals.set(output.requestId, output.outputs.map((o) => o.tokenIds.join(",")));
    checkBlockInvariants(engine);
    swappedSeen = Math.max(swappedSeen, engine.stats().numRequestsSwapped);
    swapUsage = Math.max(swapUsage, engine.stats().cpuCacheUsagePerc);
  }
  return { outputs: prompts.map((_, i) => finals.get(`r${i}`)), engine, runner, swappedSeen, swapUsage };
}

test("n = 3 seeded requests, forked and swapped under a tiny cache, sample what they sample with room to spare", () => {
  const roomy = generate({}, 3);
  assert.is(roomy.engine.stats().numPreemptions, 0);
  const swapped = generate({ numGpuBlocksOverride: 20, preemptionMode: "swap" }, 3);
  assert.ok(swapped.engine.scheduler.numSwapOuts > 0, "the small cache swapped sequences out");
  assert.ok(swapped.swappedSeen > 0 && swapped.swapUsage > 0, "the stats show swapped sequences and swap space in use");
  assert.equal(swapped.outputs, roomy.outputs);
  assert.is(swapped.engine.stats().cpuCacheUsagePerc, 0);
});

test("swap moves fewer tokens through the forward pass than recompute", () => {
  const recompute = generate({ numGpuBlocksOverride: 20 }, 1);
  const swap = generate({ numGpuBlocksOverride: 20, preemptionMode: "swap" }, 1);
  assert.equal(swap.outputs, recompute.outputs);
  const computed = (r: ReferenceModelRunner) => r.numForwardTokens;
  assert.ok(recompute.engine.stats().numPreemptions > 0 && swap.engine.stats().numPreemptions > 0);
  assert.ok(computed(swap.runner) < computed(recompute.runner), `swap computed ${computed(swap.runner)} tokens, recompute ${computed(recompute.runner)}`);
});

test("aborting a swapped-out request frees its swap blocks at once", () => {
  const engine = makeTestEngine({ blockSize: 4, maxModelLen: 64, numGpuBlocksOverride: 20, preemptionMode: "swap" });
  prompts.forEach((p, i) => engine.addRequest(`r${i}`, { promptTokenIds: p }, seeded(i, 1)));
  while (engine.scheduler.swapped.length === 0) engine.step();
  const victim = [...engine.scheduler.swapped][0];
  const held = victim.swappedBlockTable.length;
  const free = engine.kvCacheManager.swapSpace.numFreeBlocks;
  assert.ok(held > 0);
  assert.ok(engine.abortRequest(victim.request.requestId)?.finished);
  assert.is(engine.kvCacheManager.swapSpace.numFreeBlocks, free + held);
  assert.is(engine.stats().numRequestsSwapped, 0);
  checkBlockInvariants(engine);
  drain(engine);
  assert.is(engine.kvCacheManager.swapSpace.numFreeBlocks, engine.kvCacheManager.swapSpace.numBlocks);
});

test("swap needs a runner that can swap, and a valid mode", () => {
  const base = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });
  const cannotSwap: ModelRunner = { config: base.config, initializeKvCache: (n, b) => base.initializeKvCache(n, b), execute: (input) => base.execute(input) };
  assert.throws(() => makeTestEngine({ preemptionMode: "swap" }, cannotSwap), (e: unknown) => e instanceof TsvllmError && /cannot swap/.test(e.message));
  assert.throws(() => makeTestEngine({ preemptionMode: "spill" as "swap" }), (e: unknown) => e instanceof TsvllmError && /preemptionMode/.test(e.message));
  assert.throws(() => makeTestEngine({ preemptionMode: "swap", swapSpace: -1 }), (e: unknown) => e instanceof TsvllmError && /swapSpace/.test(e.message));
});

test.run();
