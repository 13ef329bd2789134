// Background responses (`background: true`), as vLLM runs them: the request is answered at once
// with the Response "queued" and the generation runs on, writing the stored Response as it goes:
// "in_progress" once the engine runs it, then the whole answer ("completed" or "incomplete"), or
// "failed" with an `error` when the generation throws. Cancelling aborts the engine request (its
// KV blocks are freed) and leaves the Response "cancelled"; server shutdown aborts every running
// one, so the engine does not wait for answers nobody is waiting on.
import type { FastifyBaseLogger } from "fastify";
import type { ServerContext } from "./context.ts";
import { ApiError, toApiError } from "./errors.ts";
import { startGeneration } from "./generation.ts";
import { ResponseEventLog } from "./responses/event-log.ts";
import { ResponsesStreamer } from "./responses/response-events.ts";
import { responseJson } from "./responses/response.ts";
import { keepResponse, type PreparedResponse } from "./responses-prepare.ts";

interface BackgroundJob {
  controller: AbortController;
  /** Set by a cancel, which the job reports as "cancelled" rather than "failed". */
  cancelled: boolean;
  finished: Promise<void>;
}

export class BackgroundResponses {
  private readonly jobs = new Map<string, BackgroundJob>();
  constructor(
    private readonly ctx: ServerContext,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Keeps the Response "queued" and starts its generation; the events log is there when the request streams. */
  start(prepared: PreparedResponse, stream: boolean): { queued: Record<string, unknown>; events: ResponseEventLog | null } {
    const queued = responseJson(prepared.format, "queued", [], null);
    const events = stream ? new ResponseEventLog() : null;
    keepResponse(this.ctx, prepared, queued, events);
    const job: BackgroundJob = { controller: new AbortController(), cancelled: false, finished: Promise.resolve() };
    const id = prepared.format.id;
    this.jobs.set(id, job);
    job.finished = this.run(prepared, job, queued, events).finally(() => this.jobs.delete(id));
    return { queued, events };
  }

  /** Aborts a running background response and waits until it is kept as "cancelled"; false when none runs under that id. */
  async cancel(id: string): Promise<boolean> {
    const job = this.jobs.get(id);
    if (job === undefined) return false;
    job.cancelled = true;
    job.controller.abort();
    await job.finished;
    return true;
  }

  /** At shutdown: every running response fails; nothing waits for them. */
  abortAll(): void {
    const reason = new ApiError("shutting_down", "The server shut down before the background response finished.");
    for (const job of this.jobs.values()) job.controller.abort(reason);
  }

  /** Never rejects: whatever the generation throws ends the Response "failed". */
  private async run(prepared: PreparedResponse, job: BackgroundJob, queued: Record<string, unknown>, events: ResponseEventLog | null): Promise<void> {
    const { signal } = job.controller;
    let latest = queued;
    const keep = (response: Record<string, unknown>) => {
      latest = response;
      keepResponse(this.ctx, prepared, response, events);
    };
    const streamer = new ResponsesStreamer(prepared.format);
    try {
      const outputs = await startGeneration(this.ctx, [{ prompt: prepared.prompt, params: prepared.params }], { ...prepared.options, signal });
      keep({ ...latest, status: "in_progress" });
      for await (const { output } of outputs) {
        // Leaving the loop ends the engine request, if the abort has not already.
        if (signal.aborted) break;
        // The streamer reads the answer whether or not anyone follows its events.
        const streamed = streamer.events(output);
        events?.append(streamed);
      }
      // An answer that ended before an abort reached it is kept as it ended.
      if (streamer.completed === null) {
        signal.throwIfAborted();
        throw new ApiError("internal_error", "The engine ended the request without its final output.");
      }
      keep(streamer.completed);
    } catch (err) {
      if (job.cancelled) {
        keep({ ...latest, status: "cancelled" });
        return;
      }
      const error = toApiError(signal.aborted ? signal.reason : err);
      if (error.code === "internal_error") this.log.error({ err, responseId: prepared.format.id }, "background response failed");
      keep({ ...latest, status: "failed", error: { code: error.code, message: error.message } });
      events?.append([streamer.errorEvent(error)]);
    } finally {
      events?.close();
    }
  }
}
