// GET /v1/models: the names this server answers to, all backed by the one engine, then its loaded
// LoRA adapters (root: the adapter's path, parent: the base model's first served name), as vLLM.
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.ts";

export async function modelRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  const created = Math.floor(Date.now() / 1000);
  const entry = (id: string, root: string, parent: string | null) => ({ id, object: "model", created, owned_by: "tsvllm", root, parent, max_model_len: ctx.engine.maxModelLen });
  app.get("/v1/models", async () => ({
    object: "list",
    data: [
      ...ctx.servedModelNames.map((id) => entry(id, ctx.engine.modelName, null)),
      ...(ctx.engine.lora?.listLoras() ?? []).map((l) => entry(l.loraName, l.loraPath, ctx.servedModelNames[0])),
    ],
  }));
}
