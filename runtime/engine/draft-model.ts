// Speculative decoding with a draft model (vLLM's speculative_config {"model": ...,
// "num_speculative_tokens": k}): before the target's step, a smaller model with the same vocabulary
// proposes the next tokens of each sequence the scheduler gave room for drafts, greedily, one
// forward pass per draft; the target's step then verifies them (speculative.ts: only the drafts
// its own draws agree with are kept, so outputs are those without drafts).
//
// The draft model keeps its own paged KV cache with as many blocks as the target's and writes
// each token's keys and values to the slot the target uses for that position: the sequences'
// block tables serve both caches, and the blocks the scheduler allocated for a step's drafts hold
// the draft model's KV of them too. A sequence's draft KV is caught up before its drafts: the
// tokens since the draft model last computed it (all of them the first time, or after the
// sequence was preempted, as its blocks changed), and the drafts the target kept count as
// computed. A stale draft cache (a prefix-cache hit on blocks another sequence filled without a
// draft model's pass, say) costs accepted drafts, never correctness.
import { TsvllmError } from "../errors.ts";
import type { DeviceSampling, ModelInput, ModelRunner } from "./model-runner.ts";
import type { ScheduledSequence, SchedulerOutput } from "./scheduler.ts";
import type { Sequence } from "./sequence.ts";

/** What the draft model holds of a sequence: KV of positions [0, computed), the last of which may be drafts. */
interface DraftState {
  /** Positions whose draft KV was written from the tokens the sequence had then. */
  computed: number;
  /** The sequence's length when its drafts were proposed; the drafts computed past it follow. */
  base: number;
  drafted: number[];
  /** seq.numPreemptions then: a preemption gives the sequence other blocks. */
  numPreemptions: number;
}

/** One sequence's share of a draft forward pass: tokens from position `from`; `wantsToken` when its last one's next token is a draft. */
interface DraftChunk {
  seq: Sequence;
  tokens: number[];
  from: number;
  wantsToken: boolean;
}

export class DraftModelProposer {
  private readonly states = new WeakMap<Sequence, DraftState>();

  /** maxTokens: the most tokens one of the draft model's forward passes holds (its maxNumBatchedTokens). */
  constructor(readonly runner: ModelRunner, private readonly blockSize: number, private readonly maxTokens: number) {
    if (runner.executeAndSample === undefined) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "the draft model's runner cannot sample in its forward pass", "speculativeConfig.model");
  }

  /** Positions of the sequence the draft model's cache holds for its current tokens. */
  private computedOf(seq: Sequence): number {
    const state = this.states.get(seq);
    if (state === undefined || state.numPreemptions !== seq.numPreemptions) return 0;
    let kept = 0;
    while (kept < state.drafted.length && state.base + kept < seq.numTokens && seq.tokenIds[state.base + kept] === state.drafted[kept]) kept++;
    return Math.min(state.computed, state.base + kept);
  }

  /** Writes the drafts of every scheduled sequence that has room for some, in place: its draftTokenIds and its draft input ids. */
  propose(output: SchedulerOutput): void {
    const drafting = output.scheduled.filter((s) => s.draftTokenIds.length > 0);
    if (drafting.length === 0) return;
    // First pass: each sequence's tokens since the draft model's last pass, the last giving draft 1.
    const pending = drafting.map((s) => ({ s, from: Math.min(this.computedOf(s.seq), s.seq.numTokens - 1) }));
    const firstDrafts = new Map<ScheduledSequence, number>();
    while (pending.some((p) => p.from < p.s.seq.numTokens)) {
      const chunks: { chunk: DraftChunk; s: ScheduledSequence }[] = [];
      let room = this.maxTokens;
      for (const p of pending) {
        const length = Math.min(p.s.seq.numTokens - p.from, room);
        if (length <= 0) continue;
        const end = p.from + length;
        chunks.push({ s: p.s, chunk: { seq: p.s.seq, tokens: p.s.seq.tokenIds.slice(p.from, end), from: p.from, wantsToken: end === p.s.seq.numTokens } });
        p.from = end;
        room -= length;
      }
      const tokens = this.run(chunks.map((c) => c.chunk));
      chunks.filter((c) => c.chunk.wantsToken).forEach((c, i) => firstDrafts.set(c.s, tokens[i]));
    }
    for (const s of drafting) this.setDraft(s, 0, firstDrafts.get(s)!);
    // Then one pass per further draft, over the sequences that have room for it.
    const most = Math.max(...drafting.map((s) => s.draftTokenIds.length));
    for (let j = 1; j < most; j++) {
      const next = drafting.filter((s) => s.draftTokenIds.length > j);
      const tokens = this.run(next.map((s) => ({ seq: s.seq, tokens: [s.draftTokenIds[j - 1]], from: s.seq.numTokens + j - 1, wantsToken: true })));
      next.forEach((s, i) => this.setDraft(s, j, tokens[i]));
    }
    for (const s of drafting) {
      const drafted = s.draftTokenIds.slice(0, -1);
      this.states.set(s.seq, { computed: s.seq.numTokens + drafted.length, base: s.seq.numTokens, drafted, numPreemptions: s.seq.numPreemptions });
    }
  }

  /** Draft j of a scheduled sequence, in its drafts and where the target's step reads it (after the last known token). */
  private setDraft(s: ScheduledSequence, j: number, token: number): void {
    s.draftTokenIds[j] = token;
    s.tokenIds[s.numScheduledTokens - s.draftTokenIds.length + j] = token;
  }

  /** One forward pass of the draft model; returns the greedy next token of each chunk that wants one, in order. */
  private run(chunks: readonly DraftChunk[]): Int32Array {
    const bs = this.blockSize;
    const numTokens = chunks.reduce((n, c) => n + c.tokens.length, 0);
    const maxBlocksPerSeq = Math.max(...chunks.map((c) => c.seq.blockTable.length));
    const input: ModelInput = {
      numSeqs: chunks.length,
      numTokens,
      inputIds: new Int32Array(numTokens),
      positions: new Int32Array(numTokens),
      slotMapping: new Int32Array(numTokens),
      blockTables: new Int32Array(chunks.length * maxBlocksPerSeq).fill(-1),
      maxBlocksPerSeq,
      contextLens: new Int32Array(chunks.length),
      queryStartLoc: new Int32Array(chunks.length + 1),
      logitsIndices: new Int32Array(chunks.filter((c) => c.wantsToken).length),
      blockCopies: new Int32Array(0),
      loraSlots: null,
    };
    let rows = 0;
    chunks.forEach((c, i) => {
      const start = input.queryStartLoc[i];
      c.tokens.forEach((token, j) => {
        const position = c.from + j;
        input.inputIds[start + j] = token;
        input.positions[start + j] = position;
        input.slotMapping[start + j] = c.seq.blockTable[Math.floor(position / bs)] * bs + (position % bs);
      });
      input.blockTables.set(c.seq.blockTable, i * maxBlocksPerSeq);
      input.contextLens[i] = c.from + c.tokens.length;
      input.queryStartLoc[i + 1] = start + c.tokens.length;
      if (c.wantsToken) input.logitsIndices[rows++] = start + c.tokens.length - 1;
    });
    return this.runner.executeAndSample!(input, greedyRows(rows), false).tokenIds;
  }
}

/** Device sampling of logits rows 0 .. n - 1 at temperature 0 (the argmax), without logit edits. */
function greedyRows(n: number): DeviceSampling {
  return {
    rowIndices: Int32Array.from({ length: n }, (_, r) => r),
    temperature: new Float32Array(n),
    topK: new Int32Array(n),
    topP: new Float32Array(n).fill(1),
    minP: new Float32Array(n),
    rng: new Uint32Array(4 * n),
    editOffsets: new Int32Array(n + 1),
    editTokenIds: new Int32Array(0),
    editBias: new Float32Array(0),
    editRepetition: new Float32Array(0),
    editSubtract: new Float32Array(0),
  };
}
