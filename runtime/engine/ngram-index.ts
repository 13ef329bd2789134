// The n-gram lookup of speculative decoding (speculative.ts: the tokens after the most recent
// earlier occurrence of the longest suffix of promptLookupMax down to promptLookupMin tokens),
// kept incrementally for a sequence whose tokens only grow: per length n in [promptLookupMin, promptLookupMax], the start of
// the latest occurrence of every n-gram that something follows. A proposal then looks its suffixes
// up instead of scanning the sequence, which took O(length x promptLookupMax) a step for each
// drafting sequence when nothing matched (the usual case), on the JS thread between forward passes:
// 256 sequences of 8k tokens (Zipf-like ids from 500, lookups of 5 tokens) took 6.3 ms a step by
// the scan and 0.85 ms by the index; of 2k tokens, 0.8 and 0.4 ms.
import type { SpeculativeConfig } from "./speculative.ts";

function key(tokens: readonly number[], start: number, n: number): string {
  let k = `${tokens[start]}`;
  for (let i = start + 1; i < start + n; i++) k += `,${tokens[i]}`;
  return k;
}

export class NgramIndex {
  /** latest[n - min]: n-gram -> start of its latest occurrence among those ending before the last indexed end. */
  private readonly latest: Map<string, number>[];
  /** n-grams ending at indices below this are recorded. */
  private indexedEnd = 0;

  constructor(private readonly config: Pick<SpeculativeConfig, "promptLookupMin" | "promptLookupMax">) {
    this.latest = Array.from({ length: config.promptLookupMax - config.promptLookupMin + 1 }, () => new Map<string, number>());
  }

  /** At most maxDrafts tokens that followed the most recent earlier occurrence of tokens' longest looked-up suffix (none without one); tokens must extend every list this index saw before. */
  propose(tokens: readonly number[], maxDrafts: number): number[] {
    const length = tokens.length;
    // Occurrences that something follows end at length - 2 at the latest.
    for (let end = this.indexedEnd; end <= length - 2; end++) {
      this.latest.forEach((occurrences, i) => {
        const n = this.config.promptLookupMin + i;
        if (end - n + 1 >= 0) occurrences.set(key(tokens, end - n + 1, n), end - n + 1);
      });
    }
    this.indexedEnd = Math.max(this.indexedEnd, length - 1);
    if (maxDrafts <= 0) return [];
    for (let n = Math.min(this.config.promptLookupMax, length - 1); n >= this.config.promptLookupMin; n--) {
      const start = this.latest[n - this.config.promptLookupMin].get(key(tokens, length - n, n));
      if (start !== undefined) return tokens.slice(start + n, Math.min(start + n + maxDrafts, length));
    }
    return [];
  }
}
