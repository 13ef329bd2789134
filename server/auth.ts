// --api-key: every route but /health (and its SageMaker twin /ping) wants "Authorization: Bearer
// <key>" (compared in constant time). CORS preflights carry no credentials, so OPTIONS passes, as
// in vLLM's middleware.
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { ApiError } from "./errors.ts";

const openRoutes = new Set(["/health", "/ping"]);

export function installApiKey(app: FastifyInstance, apiKey: string): void {
  const expected = Buffer.from(`Bearer ${apiKey}`, "utf8");
  app.addHook("onRequest", async (request) => {
    const path = request.url.split("?", 1)[0];
    if (request.method === "OPTIONS" || openRoutes.has(path)) return;
    const given = Buffer.from(request.headers.authorization ?? "", "utf8");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ApiError("invalid_api_key", "Invalid or missing API key: send the header 'Authorization: Bearer <key>'.");
    }
  });
}
