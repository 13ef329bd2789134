// POST /v1/embeddings (OpenAI's API, as vLLM serves it for a pooling model): one embedding per
// input, pooled as the model pools (runtime/engine/pooling.ts), cut to `dimensions` for a
// Matryoshka model, as floats or as base64 of little-endian float32 (encoding_format, which the
// openai clients ask for by default).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ServerContext } from "../context.ts";
import { poolInputs } from "../embed-prompts.ts";
import { embeddingRequestSchema, type EmbeddingRequest } from "../schemas/embeddings.ts";

function base64Floats(values: readonly number[]): string {
  return Buffer.from(Float32Array.from(values).buffer).toString("base64");
}

/** POST /v1/embeddings' handler, which /invocations also dispatches to. */
export function embeddingHandler(ctx: ServerContext) {
  return async (request: FastifyRequest<{ Body: EmbeddingRequest }>, reply: FastifyReply) => {
    const body = request.body;
    const { id, model, finals, usage } = await poolInputs(ctx, reply, body, "embd", { dimensions: body.dimensions });
    const data = finals.map((output, index) => ({ index, object: "embedding", embedding: body.encoding_format === "base64" ? base64Floats(output.embedding!) : output.embedding }));
    return { id, object: "list", created: Math.floor(Date.now() / 1000), model, data, usage };
  };
}

export async function embeddingRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.post<{ Body: EmbeddingRequest }>("/v1/embeddings", { schema: { body: embeddingRequestSchema } }, embeddingHandler(ctx));
}
