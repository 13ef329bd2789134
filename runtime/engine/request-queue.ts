// Scheduling policies as data structures: the waiting queue's order, and which running sequence
// gives its blocks back when the cache runs out. FCFS orders by arrival; priority orders by
// (priority, arrival), lower values first, as vLLM does.
import type { SchedulingPolicy } from "./config.ts";
import type { Sequence } from "./sequence.ts";

export interface WaitingQueue extends Iterable<Sequence> {
  readonly length: number;
  peek(): Sequence | undefined;
  pop(): Sequence;
  /** A new arrival. */
  add(seq: Sequence): void;
  /** A preempted sequence, which goes ahead of the new arrivals it competes with. */
  addPreempted(seq: Sequence): void;
  remove(seq: Sequence): boolean;
}

/** Orders by (priority, arrival time, sequence id): the sort key vLLM's priority heap uses. */
export function comparePriority(a: Sequence, b: Sequence): number {
  return a.request.priority - b.request.priority || a.request.arrivalTime - b.request.arrivalTime || a.seqId - b.seqId;
}

/** FCFS when compare is null (arrivals at the back, preempted at the front); else kept sorted by it. */
class ArrayWaitingQueue implements WaitingQueue {
  private readonly items: Sequence[] = [];
  private readonly compare: ((a: Sequence, b: Sequence) => number) | null;

  constructor(compare: ((a: Sequence, b: Sequence) => number) | null) {
    this.compare = compare;
  }

  get length(): number {
    return this.items.length;
  }

  peek(): Sequence | undefined {
    return this.items[0];
  }

  pop(): Sequence {
    const seq = this.items.shift();
    if (seq === undefined) throw new Error("pop() on an empty waiting queue");
    return seq;
  }

  add(seq: Sequence): void {
    if (this.compare === null) {
      this.items.push(seq);
      return;
    }
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.compare(this.items[mid], seq) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, seq);
  }

  addPreempted(seq: Sequence): void {
    if (this.compare === null) this.items.unshift(seq);
    else this.add(seq);
  }

  remove(seq: Sequence): boolean {
    const i = this.items.indexOf(seq);
    if (i >= 0) this.items.splice(i, 1);
    return i >= 0;
  }

  [Symbol.iterator](): Iterator<Sequence> {
    return this.items[Symbol.iterator]();
  }
}

export function createWaitingQueue(policy: SchedulingPolicy): WaitingQueue {
  return new ArrayWaitingQueue(policy === "priority" ? comparePriority : null);
}

const compareArrival = (a: Sequence, b: Sequence) => a.request.arrivalTime - b.request.arrivalTime || a.seqId - b.seqId;

/** Swapped-out sequences, which come back oldest first (FCFS) or by priority. */
export function createSwappedQueue(policy: SchedulingPolicy): WaitingQueue {
  return new ArrayWaitingQueue(policy === "priority" ? comparePriority : compareArrival);
}

/** The running sequence to preempt: the newest (FCFS) or the lowest priority, latest arrival. */
export function pickPreemptionVictim(running: readonly Sequence[], policy: SchedulingPolicy): Sequence {
  if (policy === "fcfs") return running[running.length - 1];
  let victim = running[0];
  for (const seq of running) if (comparePriority(seq, victim) > 0) victim = seq;
  return victim;
}
