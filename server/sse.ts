// The connection side of a generation request: Server-Sent Events with backpressure, and an
// AbortSignal that fires when the client goes away before its answer is complete.
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";
import { toApiError, type ApiError } from "./errors.ts";

/** Fires when the connection closes before the response was fully written. */
export function clientAbortSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const raw = reply.raw;
  const onClose = () => {
    if (!raw.writableFinished) controller.abort();
  };
  if (raw.destroyed || raw.socket?.destroyed) controller.abort();
  else raw.once("close", onClose);
  return controller.signal;
}

export class SseStream {
  private readonly raw: ServerResponse;

  /** Takes the response over from fastify and sends the event-stream headers. */
  constructor(reply: FastifyReply, headers: Record<string, string> = {}) {
    reply.hijack();
    this.raw = reply.raw;
    this.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...headers,
    });
  }

  get closed(): boolean {
    return this.raw.destroyed || this.raw.writableEnded;
  }

  /** Writes one `data:` event (named, when `event` is given); waits while the client is not reading. */
  async send(data: unknown, event?: string): Promise<void> {
    if (this.closed) return;
    const name = event === undefined ? "" : `event: ${event}\n`;
    if (this.raw.write(`${name}data: ${JSON.stringify(data)}\n\n`)) return;
    const abort = new AbortController();
    await Promise.race([once(this.raw, "drain", { signal: abort.signal }), once(this.raw, "close", { signal: abort.signal })]).catch(() => undefined);
    abort.abort();
  }

  /** Sends the `[DONE]` sentinel (unless `sentinel` is false) and ends the response. */
  end(sentinel = true): void {
    if (this.closed) return;
    this.raw.end(sentinel ? "data: [DONE]\n\n" : undefined);
  }
}

export interface SseSource<E> {
  events: AsyncIterable<E>;
  toChunks: (event: E) => object[];
  /** The usage-only chunk sent last when stream_options.include_usage is set. */
  usageChunk: (() => object) | null;
  headers?: Record<string, string>;
  /**
   * Named events, as the Responses API sends them: each chunk goes out under the name this gives
   * it, errors as `errorChunk` makes them, and the stream ends without the `[DONE]` sentinel.
   */
  named?: { eventOf: (chunk: object) => string; errorChunk: (error: ApiError) => object };
}

/**
 * Streams every chunk, then the usage chunk, then [DONE]. An error after the headers went out
 * can only be reported in-band, as an OpenAI error object in its own event.
 */
export async function streamSse<E>(reply: FastifyReply, source: SseSource<E>): Promise<void> {
  const sse = new SseStream(reply, source.headers);
  const named = source.named;
  const send = (chunk: object) => sse.send(chunk, named?.eventOf(chunk));
  try {
    for await (const event of source.events) {
      for (const chunk of source.toChunks(event)) await send(chunk);
      if (sse.closed) break;
    }
    if (source.usageChunk) await send(source.usageChunk());
  } catch (err) {
    const error = toApiError(err);
    await send(named ? named.errorChunk(error) : error.toJSON());
  }
  sse.end(named === undefined);
}
