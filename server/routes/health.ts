// GET /health (no API key needed, for load balancers), GET /version, GET /metrics.
import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";

const packageJson = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

export async function healthRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.get("/health", async (_request, reply) => reply.code(200).send());
  app.get("/version", async () => ({ version: packageJson.version }));
  app.get("/metrics", async (_request, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
}
