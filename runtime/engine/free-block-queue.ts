// The free KV blocks in eviction order: allocation takes the front (least recently freed), freeing
// appends at the back, and a prefix-cache hit pulls a freed-but-still-hashed block out of the
// middle. A doubly linked list over typed arrays keeps all three O(1).
export class FreeBlockQueue {
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly queued: Uint8Array;
  /** Index of the sentinel node that closes the ring. */
  private readonly head: number;
  private count = 0;

  constructor(numBlocks: number) {
    this.head = numBlocks;
    this.next = new Int32Array(numBlocks + 1).fill(numBlocks);
    this.prev = new Int32Array(numBlocks + 1).fill(numBlocks);
    this.queued = new Uint8Array(numBlocks);
    for (let id = 0; id < numBlocks; id++) this.append(id);
  }

  get length(): number {
    return this.count;
  }

  has(blockId: number): boolean {
    return this.queued[blockId] === 1;
  }

  append(blockId: number): void {
    if (this.queued[blockId]) throw new Error(`block ${blockId} is already free`);
    const last = this.prev[this.head];
    this.next[last] = blockId;
    this.prev[blockId] = last;
    this.next[blockId] = this.head;
    this.prev[this.head] = blockId;
    this.queued[blockId] = 1;
    this.count++;
  }

  remove(blockId: number): void {
    if (!this.queued[blockId]) throw new Error(`block ${blockId} is not free`);
    this.next[this.prev[blockId]] = this.next[blockId];
    this.prev[this.next[blockId]] = this.prev[blockId];
    this.queued[blockId] = 0;
    this.count--;
  }

  popFront(): number {
    if (this.count === 0) throw new Error("no free KV blocks");
    const blockId = this.next[this.head];
    this.remove(blockId);
    return blockId;
  }

  /** Free block ids, front (next to be evicted) first. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (let id = this.next[this.head]; id !== this.head; id = this.next[id]) yield id;
  }
}
