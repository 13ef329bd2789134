// POST /v1/embeddings (OpenAI's API, as vLLM serves it for a model loaded with --task embed): one
// embedding per input, each its last token's final hidden state at unit length, as floats or as
// base64 of little-endian float32 (encoding_format, which the openai clients ask for by default).
import type { FastifyInstance } from "fastify";
import { samplingParams } from "../../runtime/engine/types.ts";
import { checkQueue, loraRequestFor, resolveModel, type ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { collectFinal, newResponseId, startGeneration } from "../generation.ts";
import { completionPrompts, truncatePrompt } from "../prompts.ts";
import { embeddingRequestSchema, type EmbeddingRequest } from "../schemas/embeddings.ts";
import { clientAbortSignal } from "../sse.ts";

function base64Floats(values: readonly number[]): string {
  return Buffer.from(Float32Array.from(values).buffer).toString("base64");
}

export async function embeddingRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.post<{ Body: EmbeddingRequest }>("/v1/embeddings", { schema: { body: embeddingRequestSchema } }, async (request, reply) => {
    const body = request.body;
    const model = resolveModel(ctx, body.model);
    if (body.dimensions != null) throw new ApiError("unsupported_parameter", "'dimensions' is not supported: this model's embeddings have one size (it is not a Matryoshka model).", "dimensions");
    const prompts = completionPrompts(body.input, ctx.tokenizer, body.add_special_tokens ?? true).map((p) => truncatePrompt(p, body.truncate_prompt_tokens, ctx.tokenizer));
    checkQueue(ctx);
    const id = newResponseId("embd");
    const requestId = body.request_id ?? id;
    const signal = clientAbortSignal(reply);
    const requests = prompts.map((prompt) => ({ prompt, params: samplingParams({ maxTokens: 1 }) }));
    const events = await startGeneration(ctx, requests, { requestId, priority: body.priority ?? 0, signal, loraRequest: loraRequestFor(ctx, model), pooling: true });
    const finals = await collectFinal(events, prompts.length);
    if (signal.aborted) throw new ApiError("client_closed_request", "The client closed the connection.");
    const promptTokens = prompts.reduce((n, p) => n + p.tokenIds.length, 0);
    void reply.header("x-request-id", requestId);
    return {
      id,
      object: "list",
      created: Math.floor(Date.now() / 1000),
      model,
      data: finals.map((output, index) => ({ index, object: "embedding", embedding: body.encoding_format === "base64" ? base64Floats(output.embedding!) : output.embedding })),
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0 },
    };
  });
}
