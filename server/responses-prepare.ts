// A /v1/responses request made ready to run: its conversation (a continuation's stored one first)
// through the chat template, the sampling params, how the Response will be written, and the engine
// request's options; and how a response is kept for GET /v1/responses/{id} and continuations.
import type { SamplingParams } from "../runtime/engine/types.ts";
import { chatPrompt } from "./chat-prompt.ts";
import { checkQueue, loraRequestFor, resolveModel, type ServerContext } from "./context.ts";
import { ApiError } from "./errors.ts";
import { newResponseId, type GenerationOptions } from "./generation.ts";
import { resolveMaxTokens, type PreparedPrompt } from "./prompts.ts";
import { paramsForReasoning } from "./reasoning-constraint.ts";
import { chatTemplateKwargs } from "./reasoning-effort.ts";
import { reasoningParserFor } from "./reasoning-parsers.ts";
import type { ResponsesFormat } from "./responses/response.ts";
import type { ResponseEventLog } from "./responses/event-log.ts";
import { appendInputItems, chatToolChoice, chatTools, inputMessages } from "./responses-input.ts";
import { checkBackground, echoedFields, outputTopLogprobs, reasoningEffortOf, rejectUnsupportedResponseFields, samplingFieldsOf } from "./responses-request.ts";
import type { StoredResponse } from "./responses-store.ts";
import { toSamplingParams, withMaxTokens } from "./sampling.ts";
import type { ChatRequestMessage } from "./schemas/chat.ts";
import type { ResponsesInputItem, ResponsesRequest } from "./schemas/responses.ts";
import { toolCallingOf, withToolConstraint } from "./tool-calls.ts";

export interface PreparedResponse {
  /** Whether the response is kept: the server has a store and the request did not turn `store` off. */
  store: boolean;
  /** The conversation so far, without instructions: what a continuation replays before the answer. */
  conversation: ChatRequestMessage[];
  prompt: PreparedPrompt;
  params: SamplingParams;
  format: ResponsesFormat;
  /** The engine request's options; the caller adds the abort signal. */
  options: Omit<GenerationOptions, "signal">;
}

/** A stored response, or vLLM's 404; without a store every id is unknown. */
export function storedResponse(ctx: ServerContext, id: string, param: string): StoredResponse {
  const stored = ctx.responsesStore?.get(id);
  if (stored === undefined) throw new ApiError("response_not_found", `Response with id '${id}' not found.`, param);
  return stored;
}

export function prepareResponse(ctx: ServerContext, body: ResponsesRequest): PreparedResponse {
  const model = resolveModel(ctx, body.model);
  rejectUnsupportedResponseFields(body);
  checkBackground(body, ctx.responsesStore !== null);
  // As vLLM: `store` (true by default, as OpenAI's) is quietly off on a server without a store.
  const store = ctx.responsesStore !== null && (body.store ?? true);
  const previous = body.previous_response_id == null ? null : storedResponse(ctx, body.previous_response_id, "previous_response_id");
  const { tokenizer, engine } = ctx;
  const tools = chatTools(body.tools ?? []);
  const toolCalling = toolCallingOf({ tools, tool_choice: chatToolChoice(body.tool_choice, tools.length), parallel_tool_calls: body.parallel_tool_calls }, ctx.toolCallParser);
  // A continuation replays the stored conversation; instructions apply to this turn only (OpenAI's rule).
  const conversation = [...(previous?.messages ?? []), ...inputMessages(body.input)];
  const messages: ChatRequestMessage[] = body.instructions ? [{ role: "system", content: body.instructions }, ...conversation] : conversation;
  // reasoning.effort is chat's reasoning_effort: a template variable, and enable_thinking false for "none".
  const templateFields = { reasoning_effort: reasoningEffortOf(body) };
  const prompt = chatPrompt({ messages, tools: tools.length > 0 ? tools : null, ...templateFields }, tokenizer);
  const reasoning = reasoningParserFor(ctx.reasoningParser, { chat_template_kwargs: chatTemplateKwargs(templateFields) });
  const top = outputTopLogprobs(body);
  const limits = { vocabSize: tokenizer.vocabSize, logprobs: top, logprobsParam: "top_logprobs", promptLogprobs: null, maxLogprobs: engine.maxLogprobs, defaults: engine.defaultSamplingParams ?? {} };
  const sampling = withToolConstraint(toSamplingParams(samplingFieldsOf(body), limits), toolCalling, false);
  // vLLM caps max_output_tokens at what the context leaves rather than refusing it.
  const maxTokens = resolveMaxTokens(prompt.tokenIds.length, null, body.max_output_tokens ?? Infinity, engine.maxModelLen, "input");
  const params = withMaxTokens(reasoning === null ? sampling : paramsForReasoning(sampling, reasoning), maxTokens);
  checkQueue(ctx);
  const format: ResponsesFormat = {
    id: body.request_id ?? newResponseId("resp", "_"),
    createdAt: Math.floor(Date.now() / 1000),
    promptTokens: prompt.tokenIds.length,
    reasoning,
    toolChoice: toolCalling.mode,
    background: body.background === true,
    logprobs: top === null ? null : { top, naming: { tokenizer, asIds: false }, skipSpecialTokens: params.skipSpecialTokens },
    echo: echoedFields(body, params, model),
  };
  const options = { requestId: format.id, priority: body.priority ?? 0, loraRequest: loraRequestFor(ctx, model) };
  return { store, conversation, prompt, params, format, options };
}

/**
 * Keeps the response when the request stores it: the object as sent and the conversation with its
 * answer, for continuations; a background stream's events go with it, for GET ?stream=true.
 */
export function keepResponse(ctx: ServerContext, prepared: PreparedResponse, response: Record<string, unknown>, events: ResponseEventLog | null = null): void {
  if (!prepared.store) return;
  const messages = [...prepared.conversation];
  appendInputItems(messages, response.output as ResponsesInputItem[], "output");
  ctx.responsesStore!.put(prepared.format.id, { response, messages, ...(events === null ? {} : { events }) });
}
