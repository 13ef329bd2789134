// What /v1/embeddings, /classify, /score and /rerank share: one pooling request per prompt, all of them
// submitted together and awaited, aborted when the client goes away, counted in the metrics as
// any engine request is (startGeneration tracks each one).
import type { FastifyReply } from "fastify";
import { dimensionsError, poolingFields, type PoolingRequestFields } from "../runtime/engine/pooling.ts";
import type { RequestOutput } from "../runtime/engine/types.ts";
import { samplingParams } from "../runtime/engine/types.ts";
import { checkQueue, loraRequestFor, resolveModel, type ServerContext } from "./context.ts";
import { ApiError } from "./errors.ts";
import { collectFinal, newResponseId, startGeneration } from "./generation.ts";
import { completionPrompts, truncatePrompt, type PreparedPrompt } from "./prompts.ts";
import { clientAbortSignal } from "./sse.ts";

export interface EmbedRequestOptions extends Omit<PoolingRequestFields, "pooling"> {
  /** The resolved `model` (a served name or a LoRA adapter). */
  model: string;
  requestId: string;
  priority?: number;
}

/** The fields of a pooling request with an `input` (/v1/embeddings, /classify) that say what to pool. */
export interface PoolingInputBody {
  model?: string;
  input: string | string[] | number[] | number[][];
  add_special_tokens?: boolean;
  truncate_prompt_tokens?: number | null;
  priority?: number;
  request_id?: string;
}

/** The prompts of a pooling request's `input` (text, texts, token ids or lists of them), each cut to its last truncate_prompt_tokens. */
export function inputPrompts(ctx: ServerContext, body: Pick<PoolingInputBody, "input" | "add_special_tokens" | "truncate_prompt_tokens">): PreparedPrompt[] {
  return completionPrompts(body.input, ctx.tokenizer, body.add_special_tokens ?? true).map((p) => truncatePrompt(p, body.truncate_prompt_tokens, ctx.tokenizer));
}

/**
 * Pools each input of a list-shaped request: the response id (idPrefix-...), the resolved model,
 * each input's finished output in order, and vLLM's usage (every prompt token, no completion).
 */
export async function poolInputs(ctx: ServerContext, reply: FastifyReply, body: PoolingInputBody, idPrefix: string, fields: Omit<PoolingRequestFields, "pooling">) {
  const model = resolveModel(ctx, body.model);
  const prompts = inputPrompts(ctx, body);
  const id = newResponseId(idPrefix);
  const finals = await embedPrompts(ctx, reply, prompts, { model, requestId: body.request_id ?? id, priority: body.priority, ...fields });
  const promptTokens = prompts.reduce((n, p) => n + p.tokenIds.length, 0);
  return { id, model, finals, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0 } };
}

/** Refuses `dimensions` the model cannot serve, with vLLM's message (a generative model is refused later, naming `task`). */
export function checkDimensions(ctx: ServerContext, dimensions: number | null | undefined): void {
  if (dimensions == null || !ctx.engine.pooling) return;
  const problem = dimensionsError(ctx.engine.pooling, dimensions, ctx.servedModelNames[0]);
  if (problem !== null) throw new ApiError("invalid_parameter", problem, "dimensions");
}

/** Each prompt's finished output (its `embedding`, or a classifier's `probs`), in prompt order. */
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
    ...poolingFields({ ...options, pooling: true }),
  });
  const finals = await collectFinal(events, prompts.length);
  if (signal.aborted) throw new ApiError("client_closed_request", "The client closed the connection.");
  void reply.header("x-request-id", options.requestId);
  return finals;
}
