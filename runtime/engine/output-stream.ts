// One request's outputs as an AsyncIterable. Outputs are cumulative, so a consumer slower than
// the engine just skips to the newest one; leaving the loop early (break, return, throw) cancels
// the request, which is how a disconnected client frees its KV blocks. A stream_interval holds
// back outputs until enough new tokens have come (stream-interval.ts).
import type { StreamInterval } from "./stream-interval.ts";
import type { RequestOutput } from "./types.ts";

export class OutputStream implements AsyncIterable<RequestOutput> {
  private latest: RequestOutput | null = null;
  private error: unknown = null;
  private finished = false;
  private wake: (() => void) | null = null;
  private readonly onCancel: () => void;
  private readonly interval: StreamInterval | null;

  constructor(onCancel: () => void, interval: StreamInterval | null = null) {
    this.onCancel = onCancel;
    this.interval = interval;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  push(output: RequestOutput): void {
    if (this.finished || (this.interval !== null && !this.interval.letThrough(output))) return;
    this.latest = output;
    this.finished = output.finished;
    this.notify();
  }

  fail(error: unknown): void {
    if (this.finished) return;
    this.error = error;
    this.finished = true;
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RequestOutput> {
    let done = false;
    try {
      for (;;) {
        if (this.latest !== null) {
          const output = this.latest;
          this.latest = null;
          done = output.finished;
          yield output;
          if (done) return;
        } else if (this.error !== null) {
          done = true;
          throw this.error;
        } else {
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
      }
    } finally {
      if (!done) this.onCancel();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
