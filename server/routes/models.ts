// GET /v1/models: the names this server answers to, all backed by the one engine.
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";

export async function modelRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const created = Math.floor(Date.now() / 1000);
  app.get("/v1/models", async () => ({
    object: "list",
    data: ctx.servedModelNames.map((id) => ({
      id,
      object: "model",
      created,
      owned_by: "tsvllm",
      root: ctx.engine.modelName,
      parent: null,
      max_model_len: ctx.engine.maxModelLen,
    })),
  }));
}
