// A pooling step's rows and each prompt's running pool. The forward pass returns the final hidden
// state of every row the step asks for (ModelInput.logitsIndices), so a prompt under LAST asks for
// its last token's row in the step that ends it, under CLS for position 0's, and under MEAN for
// every token of every chunk, summed as the chunks arrive: a prompt split over steps (chunked
// prefill) pools exactly what it would in one step, in the same order.
import type { ScheduledSequence } from "./scheduler.ts";
import type { PoolingType } from "./pooling.ts";

/** Where one scheduled sequence's rows are: rows firstRow .. firstRow + numRows hold positions firstPosition onwards. */
export interface PooledRows {
  firstRow: number;
  numRows: number;
  firstPosition: number;
}

/** The rows a step asks the forward pass for, and which belong to each scheduled sequence (in order). */
export function pooledRows(scheduled: readonly ScheduledSequence[], poolingType: PoolingType): { logitsIndices: Int32Array; rows: PooledRows[] } {
  const indices: number[] = [];
  let tokenOffset = 0;
  const rows = scheduled.map((s): PooledRows => {
    const start = s.positions[0];
    const [first, count] = tokenSpan(s, poolingType);
    const firstRow = indices.length;
    for (let k = 0; k < count; k++) indices.push(tokenOffset + first + k);
    tokenOffset += s.numScheduledTokens;
    return { firstRow, numRows: count, firstPosition: start + first };
  });
  return { logitsIndices: Int32Array.from(indices), rows };
}

/** [offset into the chunk, count] of the tokens whose states the pooling type reads. */
function tokenSpan(s: ScheduledSequence, poolingType: PoolingType): [number, number] {
  if (poolingType === "MEAN") return [0, s.numScheduledTokens];
  if (poolingType === "CLS") return [0, s.positions[0] === 0 ? 1 : 0];
  return [s.numScheduledTokens - 1, s.needsLogits ? 1 : 0];
}

/** One prompt's pool so far: the sum (in float64) of the states its steps brought back, and how many. */
export class PooledStates {
  private sum: Float64Array | null = null;
  private count = 0;

  /**
   * Adds rows of `hidden` ([rows, width]); a span from position 0 starts over, as a prompt
   * preempted and recomputed from scratch (preemptionMode "recompute") brings its states again.
   */
  add(hidden: Float32Array, width: number, { firstRow, numRows, firstPosition }: PooledRows): void {
    if (numRows === 0) return;
    if (this.sum === null || firstPosition === 0) {
      this.sum = new Float64Array(width);
      this.count = 0;
    }
    for (let r = firstRow; r < firstRow + numRows; r++) {
      for (let k = 0; k < width; k++) this.sum[k] += hidden[r * width + k];
    }
    this.count += numRows;
  }

  /** The pooled state: the one state LAST and CLS keep, or the mean of MEAN's. */
  pooled(): Float64Array {
    if (this.sum === null) throw new Error("pooled() before any hidden state arrived");
    return this.sum.map((v) => v / this.count);
  }
}
