// The KV cache manager on its own: allocation arithmetic, ref counts, LRU eviction of cached
// blocks, chained hashes, prefix-cache accounting in tokens, fork and copy-on-write.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hashBlockTokens } from "../../runtime/engine/block-hash.ts";
import { KVCacheManager, type BlockOwner } from "../../runtime/engine/block-manager.ts";

function owner(tokenIds: number[], salt: string | null = null): BlockOwner {
  return { tokenIds, numComputedTokens: 0, blockTable: [], blockHashes: [], numCachedBlocks: 0, swappedBlockTable: [], cacheSalt: salt, skipPrefixCache: false };
}

const range = (n: number, from = 100) => Array.from({ length: n }, (_, i) => from + i);

/** What the scheduler and engine do for one whole-prompt step. */
function admitAndCompute(kv: KVCacheManager, o: BlockOwner): number[] {
  const hits = kv.getComputedBlocks(o);
  const numTokens = o.tokenIds.length - hits.length * kv.blockSize;
  assert.ok(kv.allocateSlots(o, numTokens, hits));
  kv.recordPrefixCacheLookup(o.tokenIds.length, hits.length * kv.blockSize);
  o.numComputedTokens = o.tokenIds.length;
  kv.cacheFullBlocks(o);
  return hits;
}

test("allocation takes ceil(tokens / blockSize) blocks and free returns them", () => {
  const kv = new KVCacheManager({ numBlocks: 10, blockSize: 4, enablePrefixCaching: false });
  const a = owner(range(9));
  assert.ok(kv.allocateSlots(a, 9));
  assert.is(a.blockTable.length, 3);
  assert.is(kv.numFreeBlocks, 7);
  assert.ok(Math.abs(kv.usage - 0.3) < 1e-12);
  a.numComputedTokens = 9;
  assert.ok(kv.allocateSlots(a, 3), "three more tokens fit in the last block and one new block");
  assert.is(a.blockTable.length, 3);
  kv.free(a);
  assert.is(kv.numFreeBlocks, 10);
  assert.equal(a.blockTable, []);
});

test("canAllocate refuses what does not fit and allocateSlots leaves nothing behind", () => {
  const kv = new KVCacheManager({ numBlocks: 4, blockSize: 4, enablePrefixCaching: false });
  const a = owner(range(12));
  assert.ok(kv.allocateSlots(a, 12));
  const b = owner(range(8));
  assert.not.ok(kv.canAllocate(b, 8));
  assert.not.ok(kv.allocateSlots(b, 8));
  assert.equal(b.blockTable, []);
  assert.is(kv.numFreeBlocks, 1);
});

test("chained hashes depend on the whole prefix and on the salt", () => {
  const tokens = range(8);
  const first = hashBlockTokens(null, tokens, 0, 4, null);
  assert.is.not(hashBlockTokens(first, tokens, 4, 8, null), hashBlockTokens(hashBlockTokens(null, range(4, 7), 0, 4, null), tokens, 4, 8, null));
  assert.is.not(hashBlockTokens(null, tokens, 0, 4, "tenant-a"), first);
  assert.is(hashBlockTokens(null, tokens, 0, 4, null), first);
});

test("a repeated prompt reuses the cached full blocks and counts hits in tokens", () => {
  const kv = new KVCacheManager({ numBlocks: 16, blockSize: 4, enablePrefixCaching: true });
  const a = owner(range(10));
  admitAndCompute(kv, a);
  const b = owner([...range(10), 7, 7]);
  const hits = admitAndCompute(kv, b);
  assert.equal(hits, a.blockTable.slice(0, 2), "the two full blocks of the shared prefix");
  assert.is(kv.refCount(a.blockTable[0]), 2);
  assert.is(kv.prefixCacheQueries, 22);
  assert.is(kv.prefixCacheHits, 8);
});

test("at least one prompt token is always computed, even when every block is cached", () => {
  const kv = new KVCacheManager({ numBlocks: 16, blockSize: 4, enablePrefixCaching: true });
  admitAndCompute(kv, owner(range(8)));
  assert.is(kv.getComputedBlocks(owner(range(8))).length, 1);
});

test("salted requests do not share cache entries with unsalted ones", () => {
  const kv = new KVCacheManager({ numBlocks: 16, blockSize: 4, enablePrefixCaching: true });
  admitAndCompute(kv, owner(range(9)));
  assert.is(kv.getComputedBlocks(owner(range(9), "secret")).length, 0);
  assert.is(kv.getComputedBlocks(owner(range(9))).length, 2);
});

test("freed blocks stay cached and are evicted least recently freed first", () => {
  const kv = new KVCacheManager({ numBlocks: 6, blockSize: 2, enablePrefixCaching: true });
  const a = owner(range(4, 0));
  admitAndCompute(kv, a);
  const b = owner(range(4, 50));
  admitAndCompute(kv, b);
  kv.free(a);
  kv.free(b);
  assert.is(kv.numFreeBlocks, 6);
  // Blocks never used go first, then a's (freed before b's), tail block before head block.
  assert.equal(kv.freeBlockIds(), [4, 5, 1, 0, 3, 2]);
  const hit = kv.getComputedBlocks(owner([...range(4, 50), 9]));
  assert.equal(hit, [2, 3], "b's blocks are still findable");
  const c = owner(range(8, 200));
  assert.ok(kv.allocateSlots(c, 6));
  assert.equal(c.blockTable, [4, 5, 1]);
  assert.equal(kv.getComputedBlocks(owner([...range(4, 0), 9])), [0], "a's tail block was evicted, its head is still cached");
  assert.equal(kv.getComputedBlocks(owner([...range(4, 50), 9])), [2, 3]);
});

test("fork shares every block and copy-on-write copies a partly filled block once written", () => {
  const kv = new KVCacheManager({ numBlocks: 16, blockSize: 4, enablePrefixCaching: true });
  const parent = owner(range(10));
  admitAndCompute(kv, parent);
  const children = [owner(range(10)), owner(range(10)), owner(range(10))];
  for (const child of children) kv.fork(parent, child);
  assert.equal(parent.blockTable.map((b) => kv.refCount(b)), [4, 4, 4]);
  const shared = parent.blockTable[2];
  for (const o of [parent, ...children]) assert.ok(kv.allocateSlots(o, 1));
  const copies = kv.takeBlockCopies();
  assert.is(copies.length, 3, "three sequences copy; the last writer keeps the original");
  assert.ok(copies.every((c) => c.src === shared));
  assert.is(new Set([parent, ...children].map((o) => o.blockTable[2])).size, 4);
  assert.is(kv.refCount(parent.blockTable[0]), 4, "full prompt blocks stay shared");
  assert.equal(kv.takeBlockCopies(), []);
});

test("a copy into a block freed in the same step is dropped", () => {
  const kv = new KVCacheManager({ numBlocks: 8, blockSize: 4, enablePrefixCaching: false });
  const parent = owner(range(6));
  assert.ok(kv.allocateSlots(parent, 6));
  parent.numComputedTokens = 6;
  const child = owner(range(6));
  kv.fork(parent, child);
  assert.ok(kv.allocateSlots(child, 1));
  kv.free(child);
  assert.equal(kv.takeBlockCopies(), []);
});

test.run();
