// POST /v1/completions: text (or token-id) prompts in, completions out, whole or streamed.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { beamSearchParams, runBeamSearches } from "../beam-search.ts";
import { checkQueue, loraRequestFor, resolveModel, type ServerContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import { collectFinal, newResponseId, startGeneration } from "../generation.ts";
import { completionPrompts, resolveMaxTokens, truncatePrompt } from "../prompts.ts";
import { CompletionStreamer, completionResponse, type CompletionFormat } from "../responses/completion.ts";
import { logprobTokenIdsOf, rejectUnsupported, toSamplingParams, withMaxTokens } from "../sampling.ts";
import { completionRequestSchema, type CompletionRequest } from "../schemas/completions.ts";
import { clientAbortSignal, streamSse } from "../sse.ts";

/** vLLM's (and OpenAI's) default max_tokens for /v1/completions. */
const defaultMaxTokens = 16;

function rejectCompletionOnly(body: CompletionRequest): void {
  if (body.suffix != null && body.suffix !== "") {
    throw new ApiError("unsupported_parameter", "'suffix' is not supported by this server.", "suffix");
  }
  if (body.best_of != null && body.best_of !== (body.n ?? 1)) {
    throw new ApiError("unsupported_parameter", "'best_of' is not supported; use 'n' for several completions.", "best_of");
  }
}

/** POST /v1/completions' handler, which /invocations also dispatches to. */
export function completionHandler(ctx: ServerContext) {
  return async (request: FastifyRequest<{ Body: CompletionRequest }>, reply: FastifyReply) => {
    const body = request.body;
    const model = resolveModel(ctx, body.model);
    rejectUnsupported(body);
    rejectCompletionOnly(body);
    const { tokenizer, engine } = ctx;
    const logprobTokenIds = logprobTokenIdsOf(body, body.logprobs != null);
    // Each position's top log-probs are then the sampled token's and the requested ones, as in vLLM.
    const logprobs = logprobTokenIds === null ? body.logprobs ?? null : logprobTokenIds.length + 1;
    const echo = body.echo ?? false;
    const prompts = completionPrompts(body.prompt, tokenizer, body.add_special_tokens ?? true)
      .map((p) => truncatePrompt(p, body.truncate_prompt_tokens, tokenizer, body.truncation_side));
    const base = toSamplingParams(body, {
      vocabSize: tokenizer.vocabSize,
      logprobs,
      logprobTokenIds,
      promptLogprobs: body.prompt_logprobs ?? (echo && body.logprobs != null ? body.logprobs : null),
      maxLogprobs: engine.maxLogprobs,
      defaults: engine.defaultSamplingParams ?? {},
    });
    const requests = prompts.map((prompt) => ({
      prompt,
      params: withMaxTokens(base, resolveMaxTokens(prompt.tokenIds.length, body.max_tokens, defaultMaxTokens, engine.maxModelLen, "prompt")),
    }));
    checkQueue(ctx);
    const format: CompletionFormat = {
      id: newResponseId("cmpl"),
      created: Math.floor(Date.now() / 1000),
      model,
      prompts,
      n: base.n,
      echo,
      logprobs,
      promptLogprobs: body.prompt_logprobs != null,
      returnTokenIds: body.return_token_ids ?? false,
      naming: { tokenizer, asIds: body.return_tokens_as_token_ids ?? false },
      promptTokensDetails: ctx.enablePromptTokensDetails,
    };
    const requestId = body.request_id ?? format.id;
    const signal = clientAbortSignal(reply);
    const options = { requestId, priority: body.priority ?? 0, signal, loraRequest: loraRequestFor(ctx, model) };
    const events = body.use_beam_search
      ? await runBeamSearches(ctx, requests.map(({ prompt, params }) => ({ prompt, beam: beamSearchParams(body, params.maxTokens) })), options)
      : await startGeneration(ctx, requests, options);
    if (body.stream) {
      const streamer = new CompletionStreamer(format, body.stream_options?.continuous_usage_stats ?? false);
      await streamSse(reply, {
        events,
        toChunks: (event) => streamer.chunks(event),
        usageChunk: body.stream_options?.include_usage ? () => streamer.usageChunk() : null,
        headers: { "x-request-id": requestId },
      });
      return reply;
    }
    const finals = await collectFinal(events, prompts.length);
    if (signal.aborted) throw new ApiError("client_closed_request", "The client closed the connection.");
    void reply.header("x-request-id", requestId);
    return completionResponse(format, finals);
  };
}

export async function completionRoutes(app: FastifyInstance, { ctx }: { ctx: ServerContext }): Promise<void> {
  app.post<{ Body: CompletionRequest }>("/v1/completions", { schema: { body: completionRequestSchema } }, completionHandler(ctx));
}
