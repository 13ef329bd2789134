// use_beam_search (vLLM's extra request field) for /v1/completions and /v1/chat/completions: each
// prompt's beam search runs through the engine (runtime/engine/beam-search.ts), n is the beam
// width, and the answer's n choices are the best beams, best first. As in vLLM the search yields
// only its final result, so a stream carries each choice's whole text in one chunk.
import { beamSearchRequest, type BeamSearchParams } from "../runtime/engine/beam-search.ts";
import { TsvllmError } from "../runtime/errors.ts";
import type { ServerContext } from "./context.ts";
import { ApiError } from "./errors.ts";
import { linkedAbort, type GenerationEvent, type GenerationOptions } from "./generation.ts";
import type { PreparedPrompt } from "./prompts.ts";
import type { SamplingFields } from "./schemas/common.ts";
import { structuredOutputsOf } from "./structured-outputs.ts";

/** Fields beam search does not take (vLLM's BeamSearchParams has none of them): a 400, not a silent ignore. */
const withoutBeamSearch = ["logprobs", "prompt_logprobs", "logprob_token_ids", "repetition_detection", "echo", "stop", "stop_token_ids", "logit_bias", "allowed_token_ids", "bad_words"] as const;

/** Whether a request field was given a value that asks for something (logprobs: 0 does). */
function given(value: unknown): boolean {
  if (value == null || value === false || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  return typeof value !== "object" || Object.keys(value).length > 0;
}

/** The search's parameters for one prompt: n beams of up to maxTokens tokens. */
export function beamSearchParams(body: SamplingFields, maxTokens: number): BeamSearchParams {
  for (const field of withoutBeamSearch) {
    if (given(body[field])) throw new ApiError("invalid_parameter", `'${field}' cannot be combined with use_beam_search.`, field);
  }
  if ((body.min_tokens ?? 0) > 0) throw new ApiError("invalid_parameter", "'min_tokens' cannot be combined with use_beam_search.", "min_tokens");
  if (structuredOutputsOf(body) !== null) throw new ApiError("invalid_parameter", "Structured outputs cannot be combined with use_beam_search.", "use_beam_search");
  return {
    beamWidth: body.n ?? 1,
    maxTokens,
    ignoreEos: body.ignore_eos ?? false,
    temperature: body.temperature ?? 0,
    lengthPenalty: body.length_penalty ?? 1,
    includeStopStrInOutput: body.include_stop_str_in_output ?? false,
  };
}

/**
 * Every prompt's search, finished before this returns (so an engine error is still an HTTP error),
 * as the events startGeneration would give: one final output per prompt.
 */
export async function runBeamSearches(
  ctx: ServerContext,
  requests: readonly { prompt: PreparedPrompt; beam: BeamSearchParams }[],
  options: GenerationOptions,
): Promise<AsyncIterable<GenerationEvent>> {
  // One controller for all prompts: an error in one search aborts the others' rounds.
  const { controller, abort, unlink } = linkedAbort(options.signal);
  try {
    const outputs = await Promise.all(requests.map(async (request, i) => {
      const requestId = requests.length === 1 ? options.requestId : `${options.requestId}-${i}`;
      ctx.requestLogger?.logInputs(requestId, request.prompt, request.beam, options.loraRequest);
      // Counted in /metrics as one request whose every token arrives at the end, as the client sees it.
      const tracker = ctx.metrics.track();
      try {
        const output = await beamSearchRequest(ctx.engine, request.prompt.tokenIds, request.beam, { requestId, signal: controller.signal, priority: options.priority, loraRequest: options.loraRequest });
        tracker.observe(output);
        return output;
      } catch (error) {
        tracker.abandon();
        throw error;
      }
    }));
    return (async function* () {
      for (const [promptIndex, output] of outputs.entries()) yield { promptIndex, output };
    })();
  } catch (error) {
    abort();
    if (options.signal.aborted && error instanceof TsvllmError && error.code === "TSVLLM_ERR_ABORTED") {
      throw new ApiError("client_closed_request", "The client closed the connection.");
    }
    throw error;
  } finally {
    unlink();
  }
}
