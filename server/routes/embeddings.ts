// POST /v1/embeddings (OpenAI's API, as vLLM serves it for a pooling model): one embedding per
// input, pooled as the model pools (runtime/engine/pooling.ts), cut to `dimensions` for a
// Matryoshka model, as floats or as base64 of little-endian float32 (encoding_format, which the
// openai clients ask for by default).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { resolveModel, type ServerContext } from "../context.ts";
import { embedPrompts } from "../embed-prompts.ts";
import { newResponseId } from "../generation.ts";
import { completionPrompts, truncatePrompt } from "../prompts.ts";
import { embeddingRequestSchema, type EmbeddingRequest } from "../schemas/embeddings.ts";

function base64Floats(values: readonly number[]): string {
  return Buffer.from(Float32Array.from(values).buffer).toString("base64");
}

/** POST /v1/embeddings' handler, which /invocations also dispatches to. */
export function embeddingHandler(ctx: ServerContext) {
  return async (request: FastifyRequest<{ Body: EmbeddingRequest }>, reply: FastifyReply) => {
    const body = request.body;
    const model = resolveModel(ctx, body.model);
    const prompts = completionPrompts(body.input, ctx.tokenizer, body.add_special_tokens ?? true).map((p) => truncatePrompt(p, body.truncate_prompt_tokens, ctx.tokenizer));
    const id = newResponseId("embd");
    const requestId = body.request_id ?? id;
    const finals = await embedPrompts(ctx, reply, prompts, { model, requestId, priority: body.priority, dimensions: body.dimensions });
    const promptTokens = prompts.reduce((n, p) => n + p.tokenIds.length, 0);
    return {
      id,
      object: "list",
      created: Math.floor(Date.now() / 1000),
      model,
      data: finals.map((output, index) => ({ index, object: "embedding", embedding: body.encoding_format === "base64" ? base64Floats(output.embedding!) : output.embedding })),
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0 },
    };
  };
}

export async function embeddingRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.post<{ Body: EmbeddingRequest }>("/v1/embeddings", { schema: { body: embeddingRequestSchema } }, embeddingHandler(ctx));
}
