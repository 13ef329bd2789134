// vLLM's --enable-server-load-tracking: the number of requests the inference routes are serving,
// counted from the request's arrival until its response (streamed or not) has ended, and read at
// GET /load as {"server_load": n} (always 0 with tracking off, as vLLM answers).
import type { FastifyInstance } from "fastify";

/** The routes vLLM's load_aware_call wraps, of those this server has. */
const loadAwareRoutes = new Set([
  "/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/embeddings",
  "/score", "/v1/score", "/rerank", "/v1/rerank", "/v2/rerank", "/invocations",
]);

export class ServerLoad {
  current = 0;

  /** Counts every request to a load-aware route while it is served. */
  install(app: FastifyInstance): void {
    app.addHook("onRequest", async (request, reply) => {
      if (request.method !== "POST" || !loadAwareRoutes.has(request.routeOptions.url ?? "")) return;
      this.current++;
      reply.raw.once("close", () => this.current--);
    });
  }
}
