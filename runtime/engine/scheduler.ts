// vLLM v1's scheduling rule, with no prefill or decode phase: every sequence has numTokens and
// numComputedTokens, and each step a token budget lets the computed count catch up. Running
// sequences go first (a decode costs one token, a prefill chunk the rest of the budget), then
// waiting ones; when blocks run out the newest (or lowest-priority) running sequence is preempted:
// its blocks are freed and it is recomputed later, going ahead of the other waiting sequences.
// Under preemptionMode "swap" its computed KV goes to the swap space instead, and swapped
// sequences come back (as vLLM V0 did) before any waiting one is admitted.
import type { BlockCopy, BlockSwaps, KVCacheManager } from "./block-manager.ts";
import type { EngineConfig } from "./config.ts";
import { nowSeconds } from "./request.ts";
import { createSwappedQueue, createWaitingQueue, pickPreemptionVictim, type WaitingQueue } from "./request-queue.ts";
import type { Sequence } from "./sequence.ts";

export interface ScheduledSequence {
  seq: Sequence;
  numScheduledTokens: number;
  /** This step's token ids, positions and KV slots (block * blockSize + offset); views into the flat batch. */
  tokenIds: Int32Array;
  positions: Int32Array;
  slotMapping: Int32Array;
  blockTable: readonly number[];
  /** Tokens of KV the attention reads after this step: computed before plus scheduled now. */
  contextLen: number;
  /**
   * Draft tokens scheduled after the known ones (speculative decoding): the last 1 + length tokens
   * each give a logits row. A draft model writes its drafts here (and in tokenIds) before the step.
   */
  draftTokenIds: number[];
  /** The chunk reaches the end of the known tokens, so its last row (before any drafts) gives the next token. */
  needsLogits: boolean;
  /** Tokens to draw from that row: n when the first sequence of an unforked request finishes its prompt. */
  numSamples: number;
}

export interface SchedulerOutput {
  scheduled: ScheduledSequence[];
  totalNumScheduledTokens: number;
  /** All scheduled tokens, sequence after sequence. */
  inputIds: Int32Array;
  positions: Int32Array;
  slotMapping: Int32Array;
  /** Copies (copy-on-write of forked blocks) to run before the forward pass, after the swaps. */
  blockCopies: BlockCopy[];
  /** Moves between device blocks and the swap space, to run first. */
  blockSwaps: BlockSwaps;
  preempted: Sequence[];
}

type SchedulerLimits = Pick<EngineConfig, "maxNumSeqs" | "maxNumBatchedTokens" | "enableChunkedPrefill" | "schedulingPolicy" | "preemptionMode"> & Partial<Pick<EngineConfig, "enableLora" | "maxLoras">>;

interface Decision {
  seq: Sequence;
  /** Known tokens plus drafts. */
  numTokens: number;
  numDraftTokens: number;
}

export class Scheduler {
  readonly running: Sequence[] = [];
  readonly waiting: WaitingQueue;
  readonly swapped: WaitingQueue;
  numPreemptions = 0;
  /** Preemptions that swapped the sequence's KV out rather than dropping it. */
  numSwapOuts = 0;
  private readonly limits: SchedulerLimits;
  private readonly kv: KVCacheManager;

  constructor(limits: SchedulerLimits, kv: KVCacheManager) {
    this.limits = limits;
    this.kv = kv;
    this.waiting = createWaitingQueue(limits.schedulingPolicy);
    this.swapped = createSwappedQueue(limits.schedulingPolicy);
  }

  add(seq: Sequence): void {
    seq.status = "waiting";
    this.waiting.add(seq);
  }

  schedule(): SchedulerOutput {
    let budget = this.limits.maxNumBatchedTokens;
    const decisions: Decision[] = [];
    const preempted: Sequence[] = [];

    for (let i = 0; i < this.running.length && budget > 0; ) {
      const seq = this.running[i];
      const remaining = seq.numTokens - seq.numComputedTokens;
      if (remaining === 0) throw new Error(`running sequence ${seq.seqId} has no token to compute`);
      // A decode's drafts come along while the budget and the free blocks allow; never at another's expense.
      let numDraftTokens = remaining === 1 ? Math.min(seq.draftTokenIds.length, budget - 1) : 0;
      if (numDraftTokens > 0 && !this.kv.canAllocate(seq, 1 + numDraftTokens)) numDraftTokens = 0;
      const numTokens = Math.min(remaining, budget) + numDraftTokens;
      let selfPreempted = false;
      while (!this.kv.canAllocate(seq, numTokens)) {
        const victim = pickPreemptionVictim(this.running, this.limits.schedulingPolicy);
        const at = decisions.findIndex((d) => d.seq === victim);
        if (at >= 0) budget += decisions.splice(at, 1)[0].numTokens;
        if (this.running.indexOf(victim) < i) i--;
        this.preempt(victim);
        preempted.push(victim);
        if (victim === seq) {
          selfPreempted = true;
          break;
        }
      }
      if (selfPreempted) break;
      this.kv.allocate(seq, numTokens);
      decisions.push({ seq, numTokens, numDraftTokens });
      budget -= numTokens;
      i++;
    }

    // As in vLLM, a step that had to preempt admits nobody new: the cache is already too full.
    if (preempted.length === 0) budget = this.swapIn(decisions, budget);
    // Requests of an adapter the step has no slot for wait, as in vLLM, while those behind them go ahead.
    const skipped: Sequence[] = [];
    while (preempted.length === 0 && this.swapped.length === 0 && budget > 0 && this.waiting.length > 0) {
      const seq = this.waiting.peek() as Sequence;
      if (!this.hasSlotsFor(seq)) break;
      if (!this.hasLoraSlotFor(seq)) {
        skipped.push(this.waiting.pop());
        continue;
      }
      const hits = this.kv.getComputedBlocks(seq);
      const numHitTokens = hits.length * this.kv.blockSize;
      const remaining = seq.numTokens - numHitTokens;
      if (!this.limits.enableChunkedPrefill && remaining > budget) break;
      const numTokens = Math.min(remaining, budget);
      if (!this.kv.canAllocate(seq, numTokens, hits)) break;
      this.kv.allocate(seq, numTokens, hits);
      this.kv.recordPrefixCacheLookup(seq.numTokens, numHitTokens);
      seq.numComputedTokens = numHitTokens;
      seq.request.numCachedTokens ??= numHitTokens;
      this.waiting.pop();
      seq.status = "running";
      this.running.push(seq);
      seq.request.metrics.firstScheduledTime ??= nowSeconds();
      decisions.push({ seq, numTokens, numDraftTokens: 0 });
      budget -= numTokens;
    }
    // Back at the front, in their order.
    for (const seq of skipped.reverse()) this.waiting.addPreempted(seq);

    return this.buildOutput(decisions, preempted);
  }

  /** Brings swapped sequences back, first in line first, while their blocks and tokens fit; returns the budget left. */
  private swapIn(decisions: Decision[], budget: number): number {
    while (budget > 0 && this.swapped.length > 0) {
      const seq = this.swapped.peek() as Sequence;
      if (!this.hasSlotsFor(seq) || !this.hasLoraSlotFor(seq)) break;
      const remaining = seq.numTokens - seq.numComputedTokens;
      if (!this.limits.enableChunkedPrefill && remaining > budget) break;
      const numTokens = Math.min(remaining, budget);
      if (!this.kv.canSwapIn(seq, numTokens)) break;
      this.kv.swapIn(seq);
      this.kv.allocate(seq, numTokens);
      this.swapped.pop();
      seq.status = "running";
      this.running.push(seq);
      decisions.push({ seq, numTokens, numDraftTokens: 0 });
      budget -= numTokens;
    }
    return budget;
  }

  /** Whether the running batch has room for the sequence, and for the n - 1 it forks into once its prompt is done. */
  private hasSlotsFor(seq: Sequence): boolean {
    const slots = seq.request.forked ? 1 : seq.request.params.n;
    return this.running.length + slots <= this.limits.maxNumSeqs;
  }

  /**
   * Whether the running batch, with the sequence, runs at most maxLoras adapters (every step's
   * adapters must fit the model's LoRA slots); else it waits, as in vLLM, until one finishes.
   */
  private hasLoraSlotFor(seq: Sequence): boolean {
    const lora = seq.request.lora;
    if (!lora || !this.limits.enableLora) return true;
    const running = new Set(this.running.flatMap((s) => (s.request.lora ? [s.request.lora.loraIntId] : [])));
    return running.has(lora.loraIntId) || running.size < (this.limits.maxLoras ?? 1);
  }

  /**
   * After the forward pass: the scheduled tokens now have KV, but for drafts that verification
   * rejected (numRejectedDrafts, per sequence), whose slots are written again later; full blocks
   * become cacheable.
   */
  commitStep(output: SchedulerOutput, numRejectedDrafts: ReadonlyMap<Sequence, number> = new Map()): void {
    for (const s of output.scheduled) {
      s.seq.numComputedTokens += s.numScheduledTokens - (numRejectedDrafts.get(s.seq) ?? 0);
      this.kv.cacheFullBlocks(s.seq);
    }
  }

  /** Starts the other sequences of a request from its first one, sharing all of its blocks. */
  fork(parent: Sequence, children: readonly Sequence[]): void {
    const at = this.running.indexOf(parent);
    for (const child of children) {
      this.kv.fork(parent, child);
      child.status = "running";
    }
    this.running.splice(at + 1, 0, ...children);
    parent.request.forked = true;
  }

  /** Takes a sequence out of the queues and frees its blocks at once (finish, abort, error). */
  release(seq: Sequence): void {
    const at = this.running.indexOf(seq);
    if (at >= 0) this.running.splice(at, 1);
    else if (!this.swapped.remove(seq)) this.waiting.remove(seq);
    this.kv.free(seq);
  }

  private preempt(seq: Sequence): void {
    this.running.splice(this.running.indexOf(seq), 1);
    seq.numPreemptions++;
    this.numPreemptions++;
    if (this.limits.preemptionMode === "swap" && seq.numComputedTokens > 0 && this.kv.canSwapOut(seq)) {
      this.kv.swapOut(seq);
      seq.status = "swapped";
      this.numSwapOuts++;
      this.swapped.add(seq);
      return;
    }
    this.kv.free(seq);
    seq.numComputedTokens = 0;
    seq.status = "waiting";
    this.waiting.addPreempted(seq);
  }

  private buildOutput(decisions: Decision[], preempted: Sequence[]): SchedulerOutput {
    const total = decisions.reduce((sum, d) => sum + d.numTokens, 0);
    const inputIds = new Int32Array(total);
    const positions = new Int32Array(total);
    const slotMapping = new Int32Array(total);
    const bs = this.kv.blockSize;
    const scheduled: ScheduledSequence[] = [];
    let offset = 0;
    for (const { seq, numTokens, numDraftTokens } of decisions) {
      const start = seq.numComputedTokens;
      const drafts = seq.draftTokenIds.slice(0, numDraftTokens);
      for (let j = 0; j < numTokens; j++) {
        const position = start + j;
        inputIds[offset + j] = position < seq.numTokens ? seq.tokenIds[position] : drafts[position - seq.numTokens];
        positions[offset + j] = position;
        slotMapping[offset + j] = seq.blockTable[Math.floor(position / bs)] * bs + (position % bs);
      }
      const needsLogits = start + numTokens - numDraftTokens === seq.numTokens;
      scheduled.push({
        seq,
        numScheduledTokens: numTokens,
        tokenIds: inputIds.subarray(offset, offset + numTokens),
        positions: positions.subarray(offset, offset + numTokens),
        slotMapping: slotMapping.subarray(offset, offset + numTokens),
        blockTable: seq.blockTable,
        contextLen: start + numTokens,
        draftTokenIds: drafts,
        needsLogits,
        numSamples: needsLogits && !seq.request.forked ? seq.request.params.n : needsLogits ? 1 : 0,
      });
      offset += numTokens;
    }
    return { scheduled, totalNumScheduledTokens: total, inputIds, positions, slotMapping, blockCopies: this.kv.takeBlockCopies(), blockSwaps: this.kv.takeBlockSwaps(), preempted };
  }
}
