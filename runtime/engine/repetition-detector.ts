// vLLM's repetition_detection: a sequence stops once its output ends with a pattern of
// minPatternSize..maxPatternSize tokens repeated minCount times in a row. The output ends with
// minCount copies of an L-token pattern exactly when its last L * (minCount - 1) tokens each equal
// the token L before them (inside the output), so each size keeps the length of that run and a step
// costs one comparison per size, whatever the length of the output.
import type { RepetitionDetectionParams } from "./types.ts";

/** vLLM's stop_reason for a sequence finished by repetition detection. */
export const repetitionStopReason = "repetition_detected";

export class RepetitionDetector {
  private readonly minPatternSize: number;
  private readonly minCount: number;
  /** runs[i]: how many of the newest output tokens equal the one minPatternSize + i before them. */
  private readonly runs: Int32Array;

  private constructor(minPatternSize: number, maxPatternSize: number, minCount: number) {
    this.minPatternSize = minPatternSize;
    this.minCount = minCount;
    this.runs = new Int32Array(maxPatternSize - minPatternSize + 1);
  }

  /**
   * The detector of a sequence with these params and output budget; null when they detect nothing
   * (max_pattern_size 0, as vLLM disables it) or no pattern could repeat within the budget.
   */
  static create(params: RepetitionDetectionParams | null, maxOutputTokens: number): RepetitionDetector | null {
    if (params === null || params.maxPatternSize <= 0 || params.minCount < 2) return null;
    // vLLM: a min_pattern_size of 0 means 1.
    const minPatternSize = Math.max(1, params.minPatternSize);
    // Sizes whose minCount copies overrun the budget can never be seen; leaving them out bounds the state.
    const maxPatternSize = Math.min(params.maxPatternSize, Math.floor(maxOutputTokens / params.minCount));
    if (maxPatternSize < minPatternSize) return null;
    return new RepetitionDetector(minPatternSize, maxPatternSize, params.minCount);
  }

  /** Takes the token just appended to `tokenIds` (prompt then output); true when the output now ends in a repeated pattern. */
  push(tokenIds: readonly number[], numPromptTokens: number): boolean {
    const last = tokenIds.length - 1;
    const token = tokenIds[last];
    let repeated = false;
    for (let i = 0; i < this.runs.length; i++) {
      const size = this.minPatternSize + i;
      const earlier = last - size;
      this.runs[i] = earlier >= numPromptTokens && tokenIds[earlier] === token ? this.runs[i] + 1 : 0;
      if (this.runs[i] >= size * (this.minCount - 1)) repeated = true;
    }
    return repeated;
  }
}
