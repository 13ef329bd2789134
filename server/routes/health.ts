// GET /health (no API key needed, for load balancers) and GET /version.
import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";

const packageJson = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get("/health", async (_request, reply) => reply.code(200).send());
  app.get("/version", async () => ({ version: packageJson.version }));
}
