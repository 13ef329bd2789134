// GET /load: vLLM's server load metric, the requests the inference routes are serving now
// (counted with --enable-server-load-tracking, else always 0).
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";

export async function loadRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.get("/load", async () => ({ server_load: ctx.serverLoad.current }));
}
