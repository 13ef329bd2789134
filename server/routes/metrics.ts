// GET /metrics: Prometheus text from this app's own registry (see ../metrics.ts).
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";

export async function metricsRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.get("/metrics", async (_request, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
}
