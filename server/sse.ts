// The connection side of a generation request: Server-Sent Events with backpressure, and an
// AbortSignal that fires when the client goes away before its answer is complete.
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";
import { toApiError } from "./errors.ts";

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

  /** Writes one `data:` event; waits while the client is not reading. */
  async send(data: unknown): Promise<void> {
    if (this.closed) return;
    if (this.raw.write(`data: ${JSON.stringify(data)}\n\n`)) return;
    const abort = new AbortController();
    await Promise.race([once(this.raw, "drain", { signal: abort.signal }), once(this.raw, "close", { signal: abort.signal })]).catch(() => undefined);
    abort.abort();
  }

  /** Sends the `[DONE]` sentinel and ends the response. */
  end(): void {
    if (this.closed) return;
    this.raw.end("data: [DONE]\n\n");
  }
}

export interface SseSource<E> {
  events: AsyncIterable<E>;
  toChunks: (event: E) => object[];
  /** The usage-only chunk sent last when stream_options.include_usage is set. */
  usageChunk: (() => object) | null;
  headers?: Record<string, string>;
}

/**
 * Streams every chunk, then the usage chunk, then [DONE]. An error after the headers went out
 * can only be reported in-band, as an OpenAI error object in its own event.
 */
export async function streamSse<E>(reply: FastifyReply, source: SseSource<E>): Promise<void> {
  const sse = new SseStream(reply, source.headers);
  try {
    for await (const event of source.events) {
      for (const chunk of source.toChunks(event)) await sse.send(chunk);
      if (sse.closed) break;
    }
    if (source.usageChunk) await sse.send(source.usageChunk());
  } catch (err) {
    await sse.send(toApiError(err).toJSON());
  }
  sse.end();
}
