// The events of a background response created with `stream: true`, kept so that the creating
// request and any later GET /v1/responses/{id}?stream=true (from `starting_after` on) can follow
// them while the generation runs on, whoever is listening, as vLLM's event store does.

export class ResponseEventLog {
  private readonly events: object[] = [];
  private closed = false;
  private readonly waiting: (() => void)[] = [];

  append(events: readonly object[]): void {
    if (events.length === 0) return;
    this.events.push(...events);
    this.wake();
  }

  /** No more events: followers end once they have read every one. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** The events from index `from` on (an event's index is its sequence_number), waiting for new ones until the log closes. */
  async *follow(from = 0): AsyncGenerator<object> {
    let next = from;
    for (;;) {
      while (next < this.events.length) yield this.events[next++];
      if (this.closed) return;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private wake(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}
