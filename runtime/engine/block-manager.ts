// The paged KV cache's bookkeeping (vLLM's KVCacheManager): which fixed-size block holds which
// tokens of which sequence. Blocks are ref-counted so forks and prefix-cache hits share them;
// freed blocks keep their hash in an LRU free queue until reused, which is all automatic prefix
// caching needs. With a swap space, a preempted sequence's computed KV can be moved to host
// blocks and back instead of recomputed. The KV memory itself belongs to the model runner.
import { hashBlockTokens } from "./block-hash.ts";
import { FreeBlockQueue } from "./free-block-queue.ts";
import { HostBlockPool } from "./host-block-pool.ts";

/** What the manager reads and writes on a sequence (Sequence implements it). */
export interface BlockOwner {
  readonly tokenIds: readonly number[];
  numComputedTokens: number;
  /** Physical block ids, one per blockSize tokens. */
  blockTable: number[];
  /** Hashes of the sequence's full blocks, extended lazily. */
  blockHashes: string[];
  /** Leading blocks already offered to the prefix cache. */
  numCachedBlocks: number;
  /** Swap-space blocks holding the owner's computed KV while it is swapped out; empty otherwise. */
  swappedBlockTable: number[];
  readonly cacheSalt: string | null;
  /** Requests that want prompt log-probs must compute every prompt token. */
  readonly skipPrefixCache: boolean;
}

/** A block the model runner must copy (all layers, K and V) before this step's forward pass. */
export interface BlockCopy {
  src: number;
  dst: number;
}

/**
 * A step's moves between the device's blocks and the swap space, which the model runner makes in
 * this order before the step's block copies and forward pass: out (src a device block, dst a swap
 * block), then in (src a swap block, dst a device block). Out goes first because a block swapped
 * out may be handed to another sequence in the same step.
 */
export interface BlockSwaps {
  swapOut: BlockCopy[];
  swapIn: BlockCopy[];
}

export interface KVCacheManagerOptions {
  numBlocks: number;
  blockSize: number;
  enablePrefixCaching: boolean;
  /** Host blocks for swapped-out KV (vLLM V0's CPU blocks); 0, the default, disables swapping. */
  numSwapBlocks?: number;
}

export class KVCacheManager {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly enablePrefixCaching: boolean;
  /** Prompt tokens looked up in the prefix cache, and how many of them were found (vLLM's counters). */
  prefixCacheQueries = 0;
  prefixCacheHits = 0;

  private readonly refCounts: Int32Array;
  private readonly hashOfBlock: (string | null)[];
  private readonly cachedBlocks = new Map<string, number>();
  private readonly freeQueue: FreeBlockQueue;
  private pendingCopies: BlockCopy[] = [];
  readonly swapSpace: HostBlockPool;
  private pendingSwaps: BlockSwaps = { swapOut: [], swapIn: [] };
  /** Swap blocks read by this step's swap-ins, released once the step's swaps are taken. */
  private swappedInBlocks: number[] = [];

  constructor(options: KVCacheManagerOptions) {
    this.numBlocks = options.numBlocks;
    this.blockSize = options.blockSize;
    this.enablePrefixCaching = options.enablePrefixCaching;
    this.refCounts = new Int32Array(options.numBlocks);
    this.hashOfBlock = new Array<string | null>(options.numBlocks).fill(null);
    this.freeQueue = new FreeBlockQueue(options.numBlocks);
    this.swapSpace = new HostBlockPool(options.numSwapBlocks ?? 0);
  }

  get numFreeBlocks(): number {
    return this.freeQueue.length;
  }

  /** Fraction of blocks held by live sequences (vLLM's kv_cache_usage_perc, as a fraction). */
  get usage(): number {
    return 1 - this.freeQueue.length / this.numBlocks;
  }

  refCount(blockId: number): number {
    return this.refCounts[blockId];
  }

  isFree(blockId: number): boolean {
    return this.freeQueue.has(blockId);
  }

  /**
   * The longest run of the sequence's leading full blocks already in the cache. At least one token
   * is always left to compute, because the step that reaches the end must produce logits.
   */
  getComputedBlocks(owner: BlockOwner): number[] {
    return this.cachedPrefix(owner, Math.floor((owner.tokenIds.length - 1) / this.blockSize));
  }

  /** The cached blocks of the owner's first maxBlocks full blocks, up to the first one not cached. */
  private cachedPrefix(owner: BlockOwner, maxBlocks: number): number[] {
    if (!this.enablePrefixCaching || owner.skipPrefixCache) return [];
    this.extendBlockHashes(owner, maxBlocks);
    const hits: number[] = [];
    for (let i = 0; i < maxBlocks; i++) {
      const blockId = this.cachedBlocks.get(owner.blockHashes[i]);
      if (blockId === undefined) break;
      hits.push(blockId);
    }
    return hits;
  }

  recordPrefixCacheLookup(numTokens: number, numHitTokens: number): void {
    this.prefixCacheQueries += numTokens;
    this.prefixCacheHits += numHitTokens;
  }

  /** Whether allocate() can give the owner room for numNewTokens more tokens. */
  canAllocate(owner: BlockOwner, numNewTokens: number, computedBlocks: readonly number[] = []): boolean {
    const { newBlocks, copyOnWrite } = this.blocksNeeded(owner, numNewTokens, computedBlocks);
    // Hit blocks that sit in the free queue stop being free once the owner takes them.
    let reclaimed = 0;
    for (const blockId of computedBlocks) if (this.refCounts[blockId] === 0) reclaimed++;
    return newBlocks + (copyOnWrite ? 1 : 0) + reclaimed <= this.freeQueue.length;
  }

  /**
   * Appends the prefix-cache hits to the block table, copies a shared partly filled block before it
   * is written (copy-on-write after a fork) and adds blocks for numNewTokens more tokens.
   */
  allocate(owner: BlockOwner, numNewTokens: number, computedBlocks: readonly number[] = []): void {
    if (!this.canAllocate(owner, numNewTokens, computedBlocks)) throw new Error("allocate() called without room; check canAllocate() first");
    const { newBlocks, copyOnWrite } = this.blocksNeeded(owner, numNewTokens, computedBlocks);
    for (const blockId of computedBlocks) {
      if (this.refCounts[blockId] === 0) this.freeQueue.remove(blockId);
      this.refCounts[blockId]++;
      owner.blockTable.push(blockId);
    }
    if (copyOnWrite) {
      const index = Math.floor(owner.numComputedTokens / this.blockSize);
      const shared = owner.blockTable[index];
      const copy = this.takeFreeBlock();
      this.refCounts[shared]--;
      owner.blockTable[index] = copy;
      this.pendingCopies.push({ src: shared, dst: copy });
    }
    for (let i = 0; i < newBlocks; i++) owner.blockTable.push(this.takeFreeBlock());
  }

  /** canAllocate() then allocate(); false (and no change) when the blocks are not there. */
  allocateSlots(owner: BlockOwner, numNewTokens: number, computedBlocks: readonly number[] = []): boolean {
    if (!this.canAllocate(owner, numNewTokens, computedBlocks)) return false;
    this.allocate(owner, numNewTokens, computedBlocks);
    return true;
  }

  /** Releases the owner's device blocks and swap blocks. */
  free(owner: BlockOwner): void {
    this.freeDeviceBlocks(owner);
    for (const blockId of owner.swappedBlockTable) this.swapSpace.release(blockId);
    owner.swappedBlockTable = [];
  }

  /** Blocks of the owner's computed KV: what swapOut() moves and swapIn() brings back. */
  private numComputedBlocks(owner: BlockOwner): number {
    return Math.ceil(owner.numComputedTokens / this.blockSize);
  }

  /** Whether the swap space has room for the owner's computed KV. */
  canSwapOut(owner: BlockOwner): boolean {
    return this.numComputedBlocks(owner) <= this.swapSpace.numFreeBlocks;
  }

  /**
   * Moves the owner's computed KV to swap blocks and frees its device blocks, which keep their
   * prefix-cache hashes like any freed block. A block whose copy-on-write is still pending this
   * step is swapped out from the shared block it was to be copied from: that copy is now void.
   */
  swapOut(owner: BlockOwner): void {
    if (!this.canSwapOut(owner)) throw new Error("swapOut() called without room; check canSwapOut() first");
    const count = this.numComputedBlocks(owner);
    for (let i = 0; i < count; i++) {
      const device = owner.blockTable[i];
      const src = this.pendingCopies.find((c) => c.dst === device)?.src ?? device;
      const dst = this.swapSpace.take();
      this.pendingSwaps.swapOut.push({ src, dst });
      owner.swappedBlockTable.push(dst);
    }
    this.freeDeviceBlocks(owner);
  }

  /**
   * Whether swapIn() and then allocate(owner, numNewTokens) fit: leading full blocks still in the
   * prefix cache are taken back as they are, the rest need fresh device blocks.
   */
  canSwapIn(owner: BlockOwner, numNewTokens: number): boolean {
    const hits = this.swapInHits(owner);
    let reclaimed = 0;
    for (const blockId of hits) if (this.refCounts[blockId] === 0) reclaimed++;
    const swapped = owner.swappedBlockTable.length;
    const growth = Math.max(0, Math.ceil((owner.numComputedTokens + numNewTokens) / this.blockSize) - swapped);
    return swapped - hits.length + growth + reclaimed <= this.freeQueue.length;
  }

  /** Rebuilds the owner's block table on the device from the prefix cache and its swap blocks. */
  swapIn(owner: BlockOwner): void {
    if (!this.canSwapIn(owner, 0)) throw new Error("swapIn() called without room; check canSwapIn() first");
    const hits = this.swapInHits(owner);
    for (const blockId of hits) {
      if (this.refCounts[blockId] === 0) this.freeQueue.remove(blockId);
      this.refCounts[blockId]++;
      owner.blockTable.push(blockId);
    }
    owner.numCachedBlocks = hits.length;
    for (let i = hits.length; i < owner.swappedBlockTable.length; i++) {
      const dst = this.takeFreeBlock();
      this.pendingSwaps.swapIn.push({ src: owner.swappedBlockTable[i], dst });
      owner.blockTable.push(dst);
    }
    this.swappedInBlocks.push(...owner.swappedBlockTable);
    owner.swappedBlockTable = [];
  }

  /** Swaps queued since the last call, for the next forward pass; the swap blocks they read become free. */
  takeBlockSwaps(): BlockSwaps {
    const swaps = this.pendingSwaps;
    this.pendingSwaps = { swapOut: [], swapIn: [] };
    for (const blockId of this.swappedInBlocks) this.swapSpace.release(blockId);
    this.swappedInBlocks = [];
    return swaps;
  }

  /** The swapped-out owner's leading full blocks that are still in the prefix cache. */
  private swapInHits(owner: BlockOwner): number[] {
    return this.cachedPrefix(owner, Math.floor(owner.numComputedTokens / this.blockSize));
  }

  /** Releases the owner's device blocks, last block first so a sequence's tail is evicted before its head. */
  private freeDeviceBlocks(owner: BlockOwner): void {
    for (let i = owner.blockTable.length - 1; i >= 0; i--) {
      const blockId = owner.blockTable[i];
      if (--this.refCounts[blockId] === 0) this.freeQueue.append(blockId);
    }
    owner.blockTable = [];
    owner.numCachedBlocks = 0;
    // A copy into a block that was just released (its owner preempted in the same step) is void.
    if (this.pendingCopies.length > 0) this.pendingCopies = this.pendingCopies.filter((c) => this.refCounts[c.dst] > 0);
  }

  /** Gives the child every block of the parent; a partly filled last block is copied when written. */
  fork(parent: BlockOwner, child: BlockOwner): void {
    for (const blockId of parent.blockTable) this.refCounts[blockId]++;
    child.blockTable = [...parent.blockTable];
    child.blockHashes = [...parent.blockHashes];
    child.numCachedBlocks = parent.numCachedBlocks;
    child.numComputedTokens = parent.numComputedTokens;
  }

  /** After a step: full blocks whose KV is now written become findable by later requests. */
  cacheFullBlocks(owner: BlockOwner): void {
    if (!this.enablePrefixCaching) return;
    const numFull = Math.floor(owner.numComputedTokens / this.blockSize);
    if (numFull <= owner.numCachedBlocks) return;
    this.extendBlockHashes(owner, numFull);
    for (let i = owner.numCachedBlocks; i < numFull; i++) {
      const blockId = owner.blockTable[i];
      const hash = owner.blockHashes[i];
      // A block computed twice (by two requests in one step) is cached once; the twin stays private.
      if (this.hashOfBlock[blockId] === null && !this.cachedBlocks.has(hash)) {
        this.cachedBlocks.set(hash, blockId);
        this.hashOfBlock[blockId] = hash;
      }
    }
    owner.numCachedBlocks = numFull;
  }

  /** Block copies queued since the last call, for the next forward pass. */
  takeBlockCopies(): BlockCopy[] {
    const copies = this.pendingCopies;
    this.pendingCopies = [];
    return copies;
  }

  /** Free block ids, next to be evicted first. */
  freeBlockIds(): number[] {
    return [...this.freeQueue];
  }

  private blocksNeeded(owner: BlockOwner, numNewTokens: number, computedBlocks: readonly number[]): { newBlocks: number; copyOnWrite: boolean } {
    const numComputed = owner.numComputedTokens + computedBlocks.length * this.blockSize;
    const held = owner.blockTable.length + computedBlocks.length;
    const newBlocks = Math.max(0, Math.ceil((numComputed + numNewTokens) / this.blockSize) - held);
    const writeIndex = Math.floor(numComputed / this.blockSize);
    const copyOnWrite =
      numNewTokens > 0 && numComputed % this.blockSize !== 0 && writeIndex < owner.blockTable.length && this.refCounts[owner.blockTable[writeIndex]] > 1;
    return { newBlocks, copyOnWrite };
  }

  private takeFreeBlock(): number {
    const blockId = this.freeQueue.popFront();
    const hash = this.hashOfBlock[blockId];
    if (hash !== null) {
      this.cachedBlocks.delete(hash);
      this.hashOfBlock[blockId] = null;
    }
    this.refCounts[blockId] = 1;
    return blockId;
  }

  private extendBlockHashes(owner: BlockOwner, numBlocks: number): void {
    const bs = this.blockSize;
    for (let i = owner.blockHashes.length; i < numBlocks; i++) {
      const parent = i === 0 ? null : owner.blockHashes[i - 1];
      owner.blockHashes.push(hashBlockTokens(parent, owner.tokenIds, i * bs, (i + 1) * bs, owner.cacheSalt));
    }
  }
}
