// What every route plugin shares: the engine, the names it is served under, metrics and limits.
import type { EngineClient } from "../runtime/engine/client.ts";
import type { LoRARequest } from "../runtime/lora/lora-request.ts";
import type { Tokenizer } from "../runtime/tokenizer/types.ts";
import { ApiError } from "./errors.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { ReasoningParser } from "./reasoning-parsers.ts";
import type { RequestLogger } from "./request-logger.ts";
import type { ResponsesStore } from "./responses-store.ts";
import type { ServerLoad } from "./server-load.ts";
import type { ToolCallParser } from "./tool-parsers.ts";

export interface ServerContext {
  readonly engine: EngineClient;
  readonly tokenizer: Tokenizer;
  /** The first name is the default when a request names no model. */
  readonly servedModelNames: readonly string[];
  readonly metrics: ServerMetrics;
  /** 503 once the engine reports this many waiting requests; null for no limit. */
  readonly maxWaiting: number | null;
  /** Reads tool calls out of "auto" answers; null when auto tool choice is off. */
  readonly toolCallParser: ToolCallParser | null;
  /** Splits chat answers into reasoning and content; null without --reasoning-parser. */
  readonly reasoningParser: ReasoningParser | null;
  /** Stored /v1/responses answers; null when storing is off (vLLM's default). */
  readonly responsesStore: ResponsesStore | null;
  /** vLLM's --response-role: the role of chat answers after a generation prompt. */
  readonly responseRole: string;
  /** vLLM's --enable-prompt-tokens-details: usage.prompt_tokens_details.cached_tokens in chat and completions. */
  readonly enablePromptTokensDetails: boolean;
  /** Logs each engine request (--enable-log-requests); null when off. */
  readonly requestLogger: RequestLogger | null;
  /** Requests in flight on the inference routes, for GET /load. */
  readonly serverLoad: ServerLoad;
  /** Set when shutdown begins: new requests get a 503 while in-flight ones drain. */
  closing: boolean;
}

/** The served name or LoRA adapter a request asked for (or the default); 404 for any other name. */
export function resolveModel(ctx: ServerContext, model: string | undefined): string {
  if (model === undefined || model === "") return ctx.servedModelNames[0];
  if (ctx.servedModelNames.includes(model) || loraRequestFor(ctx, model) !== null) return model;
  const adapters = ctx.engine.lora?.listLoras().map((l) => l.loraName) ?? [];
  throw new ApiError("model_not_found", `The model '${model}' does not exist. This server serves: ${[...ctx.servedModelNames, ...adapters].join(", ")}.`, "model");
}

/** The loaded LoRA adapter of that name, as vLLM picks one by the request's `model`; null for a base model name. */
export function loraRequestFor(ctx: ServerContext, model: string): LoRARequest | null {
  return ctx.engine.lora?.listLoras().find((l) => l.loraName === model) ?? null;
}

export function checkQueue(ctx: ServerContext): void {
  if (ctx.maxWaiting === null) return;
  const waiting = ctx.engine.stats().numRequestsWaiting;
  if (waiting >= ctx.maxWaiting) {
    throw new ApiError("queue_full", `The server is overloaded: ${waiting} requests are waiting (limit ${ctx.maxWaiting}). Please retry later.`);
  }
}
