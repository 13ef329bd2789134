// The token-budget rule step by step: running sequences first, then waiting ones; chunked
// prefill; maxNumSeqs; preemption of the newest (FCFS) or lowest-priority sequence; and the
// per-sequence batch description (positions, slot mapping, logits flag).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { KVCacheManager } from "../../runtime/engine/block-manager.ts";
import type { EngineConfig } from "../../runtime/engine/config.ts";
import { Scheduler, type SchedulerOutput } from "../../runtime/engine/scheduler.ts";
import type { Sequence } from "../../runtime/engine/sequence.ts";
import { makeTestRequest } from "../support/engine-fixtures.ts";

type Limits = Pick<EngineConfig, "maxNumSeqs" | "maxNumBatchedTokens" | "enableChunkedPrefill" | "schedulingPolicy" | "preemptionMode">;

function setup(limits: Partial<Limits>, numBlocks = 64, blockSize = 4, numSwapBlocks = 0) {
  const kv = new KVCacheManager({ numBlocks, blockSize, enablePrefixCaching: false, numSwapBlocks });
  const scheduler = new Scheduler({ maxNumSeqs: 8, maxNumBatchedTokens: 64, enableChunkedPrefill: true, schedulingPolicy: "fcfs", preemptionMode: "recompute", ...limits }, kv);
  return { kv, scheduler };
}

function seqOf(promptLen: number, priority = 0): Sequence {
  return makeTestRequest(Array.from({ length: promptLen }, (_, i) => 10 + i), {}, { priority }).sequences[0];
}

/** Commits a step and appends one token to every sequence that reached its end, as the engine does. */
function finishStep(scheduler: Scheduler, out: SchedulerOutput): void {
  scheduler.commitStep(out);
  for (const s of out.scheduled) if (s.needsLogits) s.seq.tokenIds.push(5);
}

const summary = (out: SchedulerOutput) => out.scheduled.map((s) => [s.seq.seqId, s.numScheduledTokens, s.needsLogits]);

test("a step lists tokens, positions, slots, block table and context length per sequence", () => {
  const { scheduler } = setup({});
  const a = seqOf(6);
  scheduler.add(a);
  const out = scheduler.schedule();
  const [s] = out.scheduled;
  assert.equal([...s.tokenIds], [10, 11, 12, 13, 14, 15]);
  assert.equal([...s.positions], [0, 1, 2, 3, 4, 5]);
  const [b0, b1] = a.blockTable;
  assert.equal([...s.slotMapping], [b0 * 4, b0 * 4 + 1, b0 * 4 + 2, b0 * 4 + 3, b1 * 4, b1 * 4 + 1]);
  assert.is(s.contextLen, 6);
  assert.ok(s.needsLogits);
  assert.is(s.numSamples, 1);
  finishStep(scheduler, out);
  const next = scheduler.schedule().scheduled[0];
  assert.equal([...next.positions], [6]);
  assert.is(next.contextLen, 7);
});

test("running sequences take the budget first; waiting ones get what is left", () => {
  const { scheduler } = setup({ maxNumBatchedTokens: 10 });
  const a = seqOf(4);
  scheduler.add(a);
  finishStep(scheduler, scheduler.schedule());
  const b = seqOf(20);
  scheduler.add(b);
  const out = scheduler.schedule();
  assert.equal(summary(out), [
    [a.seqId, 1, true],
    [b.seqId, 9, false],
  ]);
  finishStep(scheduler, out);
  assert.equal(summary(scheduler.schedule()), [
    [a.seqId, 1, true],
    [b.seqId, 9, false],
  ]);
});

test("chunked prefill splits a long prompt; without it the prompt waits for a whole budget", () => {
  const chunked = setup({ maxNumBatchedTokens: 8 });
  const long = seqOf(20);
  chunked.scheduler.add(long);
  const chunks: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = chunked.scheduler.schedule();
    chunks.push(out.scheduled[0].numScheduledTokens);
    assert.is(out.scheduled[0].needsLogits, i === 2);
    finishStep(chunked.scheduler, out);
  }
  assert.equal(chunks, [8, 8, 4]);

  const whole = setup({ maxNumBatchedTokens: 8, enableChunkedPrefill: false });
  whole.scheduler.add(seqOf(20));
  assert.is(whole.scheduler.schedule().scheduled.length, 0);
});

test("maxNumSeqs caps the running set", () => {
  const { scheduler } = setup({ maxNumSeqs: 2 });
  for (let i = 0; i < 4; i++) scheduler.add(seqOf(3));
  assert.is(scheduler.schedule().scheduled.length, 2);
  assert.is(scheduler.running.length, 2);
  assert.is(scheduler.waiting.length, 2);
});

test("when blocks run out the newest running sequence is preempted and requeued first", () => {
  const { scheduler, kv } = setup({}, 4, 4);
  const a = seqOf(3);
  const b = seqOf(3);
  scheduler.add(a);
  scheduler.add(b);
  finishStep(scheduler, scheduler.schedule());
  assert.is(kv.numFreeBlocks, 2);
  const c = seqOf(6);
  scheduler.add(c);
  finishStep(scheduler, scheduler.schedule());
  assert.is(kv.numFreeBlocks, 0);
  // a and b now each need a second block; c, the newest, gives its two back.
  const out = scheduler.schedule();
  assert.equal(out.preempted, [c]);
  assert.is(scheduler.numPreemptions, 1);
  assert.is(c.numComputedTokens, 0);
  assert.equal(c.blockTable, []);
  assert.is(scheduler.waiting.peek(), c);
  assert.equal(summary(out), [
    [a.seqId, 1, true],
    [b.seqId, 1, true],
  ]);
});

test("under preemptionMode swap the victim keeps its computed tokens, and comes back before any waiting sequence", () => {
  const { scheduler, kv } = setup({ preemptionMode: "swap" }, 6, 4, 4);
  const a = seqOf(3);
  const b = seqOf(3);
  scheduler.add(a);
  scheduler.add(b);
  finishStep(scheduler, scheduler.schedule());
  const c = seqOf(14);
  scheduler.add(c);
  finishStep(scheduler, scheduler.schedule());
  assert.is(kv.numFreeBlocks, 0);
  // a and b each need a second block; c, the newest, goes to the swap space with its 14 tokens of KV.
  const out = scheduler.schedule();
  assert.equal(out.preempted, [c]);
  assert.is(c.status, "swapped");
  assert.is(c.numComputedTokens, 14);
  assert.is(c.swappedBlockTable.length, 4);
  assert.is(out.blockSwaps.swapOut.length, 4);
  assert.is(scheduler.numSwapOuts, 1);
  finishStep(scheduler, out);
  // Two blocks are free: d's one-block prompt would fit, but c (four blocks) is first in line.
  const d = seqOf(2);
  scheduler.add(d);
  assert.equal(summary(scheduler.schedule()), [[a.seqId, 1, true], [b.seqId, 1, true]]);
  assert.is(scheduler.waiting.peek(), d);
  scheduler.release(a);
  scheduler.release(b);
  const back = scheduler.schedule();
  assert.equal(summary(back), [[c.seqId, 1, true], [d.seqId, 2, true]], "c resumes with its one new token, then d is admitted");
  assert.equal(back.blockSwaps.swapIn.map((s) => s.dst), c.blockTable);
  assert.is(kv.swapSpace.numFreeBlocks, 4);
});

test("under the priority policy the lowest-priority sequence is preempted, even if already scheduled", () => {
  const { scheduler } = setup({ schedulingPolicy: "priority" }, 4, 4);
  const low = seqOf(3, 5);
  scheduler.add(low);
  finishStep(scheduler, scheduler.schedule());
  const high = seqOf(6, 0);
  scheduler.add(high);
  for (let i = 0; i < 3; i++) finishStep(scheduler, scheduler.schedule());
  // low's next token fits its blocks and is scheduled first; high's needs the block low holds.
  const out = scheduler.schedule();
  assert.equal(out.preempted, [low]);
  assert.equal(summary(out), [[high.seqId, 1, true]]);
  assert.is(out.totalNumScheduledTokens, 1, "the preempted sequence's budget is returned");
});

test("a request with n > 1 samples n tokens from its first sequence's last prompt row", () => {
  const { scheduler } = setup({});
  const request = makeTestRequest([1, 2, 3], { n: 3 });
  scheduler.add(request.sequences[0]);
  const out = scheduler.schedule();
  assert.is(out.scheduled.length, 1);
  assert.is(out.scheduled[0].numSamples, 3);
});

test.run();
