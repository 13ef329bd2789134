// Graceful close: app.close() stops accepting, new requests on open connections get a 503, and
// the server closes once every in-flight request has finished. Connections with no request in
// flight (keep-alive, or opened and never used, which closeIdleConnections does not reap) are
// cut then, so the drain does not wait out clients' keep-alive timers.
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "./context.ts";
import { ApiError } from "./errors.ts";

export function installDrain(app: FastifyInstance, ctx: ServerContext): void {
  let inFlight = 0;
  app.addHook("onRequest", async (_request, reply) => {
    inFlight++;
    reply.raw.once("close", () => inFlight--);
    if (!ctx.closing) return;
    void reply.header("connection", "close");
    throw new ApiError("shutting_down", "The server is shutting down; retry on another replica.");
  });
  app.addHook("preClose", async () => {
    ctx.closing = true;
    const reaper = setInterval(() => {
      if (inFlight === 0) app.server.closeAllConnections();
      else app.server.closeIdleConnections();
    }, 20);
    reaper.unref();
    app.server.once("close", () => clearInterval(reaper));
  });
}
