// GET /health (no API key needed, for load balancers) and GET /version.
import type { FastifyInstance } from "fastify";
// Imported rather than read from disk beside this file, so a bundled server (the GPU check's) has it.
import packageJson from "../../package.json" with { type: "json" };

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get("/health", async (_request, reply) => reply.code(200).send());
  app.get("/version", async () => ({ version: packageJson.version }));
}
