// POST /v1/chat/completions: messages through the chat template, one assistant answer per choice.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { addsGenerationPrompt, chatMessages, chatPrompt } from "../chat-prompt.ts";
import { beamSearchParams, runBeamSearches } from "../beam-search.ts";
import { checkQueue, loraRequestFor, resolveModel, type ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { collectFinal, newResponseId, startGeneration } from "../generation.ts";
import { resolveMaxTokens, truncatePrompt } from "../prompts.ts";
import { paramsForReasoning } from "../reasoning-constraint.ts";
import { reasoningParserFor } from "../reasoning-parsers.ts";
import { ChatStreamer, chatResponse, type ChatFormat } from "../responses/chat.ts";
import { logprobTokenIdsOf, rejectUnsupported, toSamplingParams, withMaxTokens } from "../sampling.ts";
import { chatRequestSchema, type ChatRequest } from "../schemas/chat.ts";
import { clientAbortSignal, streamSse } from "../sse.ts";
import { toolCallingOf, withToolConstraint } from "../tool-calls.ts";

/** top_logprobs when logprobs is on, else null; top_logprobs without logprobs is an error. */
function topLogprobs(body: ChatRequest): number | null {
  if (body.logprobs === true) return body.top_logprobs ?? 0;
  if (body.top_logprobs != null && body.top_logprobs > 0) {
    throw new ApiError("invalid_parameter", "'top_logprobs' requires 'logprobs' to be true.", "top_logprobs");
  }
  return null;
}

/** The answer's role, as vLLM's get_chat_request_role: --response-role after a generation prompt, else the final message's role (the answer continues it). */
function answerRole(body: ChatRequest, responseRole: string): string {
  return addsGenerationPrompt(body) ? responseRole : body.messages[body.messages.length - 1].role;
}

/** With echo, the answer repeats the final message when the answer continues that role. */
function echoText(body: ChatRequest, role: string): string {
  if (!body.echo) return "";
  const last = body.messages[body.messages.length - 1];
  return last.role === role ? chatMessages([last])[0].content : "";
}

/** POST /v1/chat/completions' handler, which /invocations also dispatches to. */
export function chatCompletionHandler(ctx: ServerContext) {
  return async (request: FastifyRequest<{ Body: ChatRequest }>, reply: FastifyReply) => {
    const body = request.body;
    const model = resolveModel(ctx, body.model);
    rejectUnsupported(body);
    const tools = toolCallingOf(body, ctx.toolCallParser);
    const { tokenizer, engine } = ctx;
    const logprobTokenIds = logprobTokenIdsOf(body, body.logprobs === true);
    // Each position's top_logprobs are then the sampled token's and the requested ones, as in vLLM.
    const top = logprobTokenIds === null ? topLogprobs(body) : logprobTokenIds.length + 1;
    const prompt = truncatePrompt(chatPrompt(body, tokenizer), body.truncate_prompt_tokens, tokenizer, body.truncation_side);
    const reasoning = reasoningParserFor(ctx.reasoningParser, body);
    const sampling = withToolConstraint(toSamplingParams(body, { vocabSize: tokenizer.vocabSize, logprobs: top, logprobTokenIds, logprobsParam: "top_logprobs", promptLogprobs: body.prompt_logprobs ?? null, maxLogprobs: engine.maxLogprobs, defaults: engine.defaultSamplingParams ?? {} }), tools, body.use_beam_search ?? false);
    const base = reasoning === null ? sampling : paramsForReasoning(sampling, reasoning);
    const requested = body.max_completion_tokens ?? body.max_tokens;
    const maxTokensParam = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
    const maxTokens = resolveMaxTokens(prompt.tokenIds.length, requested, Infinity, engine.maxModelLen, "messages", maxTokensParam);
    const params = withMaxTokens(base, maxTokens);
    checkQueue(ctx);
    const role = answerRole(body, ctx.responseRole);
    const format: ChatFormat = {
      id: newResponseId("chatcmpl"),
      created: Math.floor(Date.now() / 1000),
      model,
      prompt,
      role,
      echoText: echoText(body, role),
      topLogprobs: top,
      promptLogprobs: body.prompt_logprobs != null,
      returnTokenIds: body.return_token_ids ?? false,
      naming: { tokenizer, asIds: body.return_tokens_as_token_ids ?? false },
      toolChoice: tools.mode,
      reasoning: reasoning === null ? null : { include: body.include_reasoning ?? true, parser: reasoning },
      promptTokensDetails: ctx.enablePromptTokensDetails,
    };
    const requestId = body.request_id ?? format.id;
    const signal = clientAbortSignal(reply);
    const options = { requestId, priority: body.priority ?? 0, signal, loraRequest: loraRequestFor(ctx, model) };
    const events = body.use_beam_search
      ? await runBeamSearches(ctx, [{ prompt, beam: beamSearchParams(body, maxTokens) }], options)
      : await startGeneration(ctx, [{ prompt, params }], options);
    if (body.stream) {
      const streamer = new ChatStreamer(format, body.stream_options?.continuous_usage_stats ?? false);
      await streamSse(reply, {
        events,
        toChunks: (event) => streamer.chunks(event.output),
        usageChunk: body.stream_options?.include_usage ? () => streamer.usageChunk() : null,
        headers: { "x-request-id": requestId },
      });
      return reply;
    }
    const [final] = await collectFinal(events, 1);
    if (signal.aborted) throw new ApiError("client_closed_request", "The client closed the connection.");
    void reply.header("x-request-id", requestId);
    return chatResponse(format, final);
  };
}

export async function chatRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.post<{ Body: ChatRequest }>("/v1/chat/completions", { schema: { body: chatRequestSchema } }, chatCompletionHandler(ctx));
}
