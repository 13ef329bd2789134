// What /v1/embeddings, /score and /rerank share: one pooling request per prompt, all of them
// submitted together and awaited, aborted when the client goes away, counted in the metrics as
// any engine request is (startGeneration tracks each one).
import type { FastifyReply } from "fastify";
import { dimensionsError } from "../runtime/engine/pooling.ts";
import type { RequestOutput } from "../runtime/engine/types.ts";
import { samplingParams } from "../runtime/engine/types.ts";
import { checkQueue, loraRequestFor, type ServerContext } from "./context.ts";
import { ApiError } from "./errors.ts";
import { collectFinal, startGeneration } from "./generation.ts";
import type { PreparedPrompt } from "./prompts.ts";
import { clientAbortSignal } from "./sse.ts";

export interface EmbedRequestOptions {
  /** The resolved `model` (a served name or a LoRA adapter). */
  model: string;
  requestId: string;
  priority?: number;
  /** Matryoshka: each embedding's first this many values. */
  dimensions?: number | null;
}

/** Refuses `dimensions` the model cannot serve, with vLLM's message (a generative model is refused later, naming `task`). */
export function checkDimensions(ctx: ServerContext, dimensions: number | null | undefined): void {
  if (dimensions == null || !ctx.engine.pooling) return;
  const problem = dimensionsError(ctx.engine.pooling, dimensions, ctx.servedModelNames[0]);
  if (problem !== null) throw new ApiError("invalid_parameter", problem, "dimensions");
}

/** Each prompt's finished output (its `embedding`), in prompt order. */
export async function embedPrompts(ctx: ServerContext, reply: FastifyReply, prompts: readonly PreparedPrompt[], options: EmbedRequestOptions): Promise<RequestOutput[]> {
  checkDimensions(ctx, options.dimensions);
  checkQueue(ctx);
  const signal = clientAbortSignal(reply);
  const requests = prompts.map((prompt) => ({ prompt, params: samplingParams({ maxTokens: 1 }) }));
  const events = await startGeneration(ctx, requests, {
    requestId: options.requestId,
    priority: options.priority ?? 0,
    signal,
    loraRequest: loraRequestFor(ctx, options.model),
    pooling: true,
    dimensions: options.dimensions ?? null,
  });
  const finals = await collectFinal(events, prompts.length);
  if (signal.aborted) throw new ApiError("client_closed_request", "The client closed the connection.");
  void reply.header("x-request-id", options.requestId);
  return finals;
}
