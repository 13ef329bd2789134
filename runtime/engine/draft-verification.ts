// The engine's side of speculative decoding (speculative.ts): which of a step's sampled rows each
// sequence keeps, the drafts it sends into the next step, and the counters behind vLLM's
// spec_decode metrics.
import { NgramIndex } from "./ngram-index.ts";
import type { Sequence } from "./sequence.ts";
import { canSpeculate, numAcceptedDrafts, type SpeculativeConfig } from "./speculative.ts";

/** The rows one sequence samples this step: one, or one more per draft it verifies. */
export interface SampleGroup {
  seq: Sequence;
  logitsRow: number;
  drafts: readonly number[];
}

/** Each group's new tokens, as rows of the step's samples, and per drafting sequence the drafts rejected. */
export interface VerifiedDrafts {
  tokens: { firstRow: number; numTokens: number }[];
  numRejected: Map<Sequence, number>;
}

export class DraftVerification {
  numDrafts = 0;
  numDraftTokens = 0;
  numAcceptedTokens = 0;
  /** Each drafting sequence's n-gram lookup, kept as its tokens grow. */
  private readonly ngramIndexes = new WeakMap<Sequence, NgramIndex>();

  constructor(
    private readonly config: SpeculativeConfig | null,
    private readonly maxModelLen: number,
  ) {}

  /** The rows up to and including the first whose token differs from its draft (all of them when every draft holds). */
  verify(groups: readonly SampleGroup[], tokenIds: Int32Array): VerifiedDrafts {
    const numRejected = new Map<Sequence, number>();
    let firstRow = 0;
    const tokens = groups.map(({ seq, drafts }) => {
      const accepted = numAcceptedDrafts(drafts, tokenIds.subarray(firstRow, firstRow + drafts.length));
      if (drafts.length > 0) {
        numRejected.set(seq, drafts.length - accepted);
        this.numDrafts++;
        this.numDraftTokens += drafts.length;
        this.numAcceptedTokens += accepted;
      }
      const group = { firstRow, numTokens: accepted + 1 };
      firstRow += drafts.length + 1;
      return group;
    });
    return { tokens, numRejected };
  }

  /** Whether this step's sequences draft their next tokens: not past disableByBatchSize queued sequences. */
  drafting(numQueued: number): boolean {
    const limit = this.config?.disableByBatchSize ?? null;
    return this.config !== null && (limit === null || numQueued < limit);
  }

  /**
   * A live sequence's drafts for the next step: as many as the output and length caps leave room
   * for after them. A draft model's are placeholders the scheduler makes room for, written before
   * the step runs.
   */
  nextDrafts(seq: Sequence, drafting: boolean): number[] {
    const config = this.config;
    if (config === null || !drafting || !canSpeculate(seq)) return [];
    const room = Math.min(config.numSpeculativeTokens, seq.request.maxOutputTokens - seq.numOutputTokens - 1, this.maxModelLen - seq.numTokens - 1);
    if (config.method === "draft_model") return new Array<number>(Math.max(0, room)).fill(0);
    let index = this.ngramIndexes.get(seq);
    if (index === undefined) {
      index = new NgramIndex(config);
      this.ngramIndexes.set(seq, index);
    }
    return index.propose(seq.tokenIds, room);
  }
}
