// vLLM's stream_interval: a streamed request's outputs go out once some choice has this many new
// tokens since it last went out, and always for a choice's first token and when a choice finishes.
// Outputs are cumulative, so the ones held back lose nothing: the next one carries their tokens.
import type { RequestOutput } from "./types.ts";

export class StreamInterval {
  private readonly interval: number;
  /** Tokens of each choice (by index) in the last output let through. */
  private readonly sent = new Map<number, number>();
  private readonly finishedSent = new Set<number>();

  constructor(interval: number) {
    this.interval = interval;
  }

  /** Whether this output goes out now; if so, it is recorded as sent. */
  letThrough(output: RequestOutput): boolean {
    const due = output.finished || output.outputs.some((o) => {
      const sent = this.sent.get(o.index) ?? 0;
      const numTokens = o.tokenIds.length;
      return (sent === 0 && numTokens > 0) || numTokens - sent >= this.interval || (o.finishReason !== null && !this.finishedSent.has(o.index));
    });
    if (!due) return false;
    for (const o of output.outputs) {
      this.sent.set(o.index, o.tokenIds.length);
      if (o.finishReason !== null) this.finishedSent.add(o.index);
    }
    return true;
  }
}
