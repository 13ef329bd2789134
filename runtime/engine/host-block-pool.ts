// The swap space's blocks (vLLM V0's CPU blocks): host memory that holds a preempted sequence's
// KV until it is swapped back in. Unlike device blocks they are never shared and never cached,
// so a free list and an owner flag per block are all the bookkeeping they need.
export class HostBlockPool {
  readonly numBlocks: number;
  private readonly free: number[];
  private readonly held: Uint8Array;

  constructor(numBlocks: number) {
    this.numBlocks = numBlocks;
    // Popped from the end: block 0 goes first, which keeps small tests readable.
    this.free = Array.from({ length: numBlocks }, (_, i) => numBlocks - 1 - i);
    this.held = new Uint8Array(numBlocks);
  }

  get numFreeBlocks(): number {
    return this.free.length;
  }

  /** Fraction of the swap space holding swapped-out KV (vLLM V0's cpu_cache_usage_perc, as a fraction). */
  get usage(): number {
    return this.numBlocks === 0 ? 0 : 1 - this.free.length / this.numBlocks;
  }

  isHeld(blockId: number): boolean {
    return this.held[blockId] === 1;
  }

  take(): number {
    const blockId = this.free.pop();
    if (blockId === undefined) throw new Error("take() on a full swap space; check numFreeBlocks first");
    this.held[blockId] = 1;
    return blockId;
  }

  release(blockId: number): void {
    if (!this.held[blockId]) throw new Error(`swap block ${blockId} is already free`);
    this.held[blockId] = 0;
    this.free.push(blockId);
  }
}
