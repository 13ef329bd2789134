// Request fields -> the engine's SamplingParams, with vLLM's defaults for anything left out (the
// model's generation config first, where it sets them: runtime/engine/generation-defaults.ts), and
// the refusal of fields we do not support yet (a clear 400, never a silent ignore).
import type { DefaultSamplingParams } from "../runtime/engine/generation-defaults.ts";
import { checkLogprobTokenIds, checkMaxLogprobs, checkRepetitionDetection } from "../runtime/engine/params-validation.ts";
import { samplingParams, type RepetitionDetectionParams, type SamplingParams } from "../runtime/engine/types.ts";
import { ApiError } from "./errors.ts";
import { checkTokenIds } from "./prompts.ts";
import { maxLogprobs as defaultMaxLogprobs, type SamplingFields } from "./schemas/common.ts";
import { structuredOutputsOf } from "./structured-outputs.ts";

export function rejectUnsupported(body: SamplingFields): void {
  if (body.prompt_embeds != null) throw new ApiError("unsupported_parameter", "'prompt_embeds' is not supported by this server yet.", "prompt_embeds");
}

function logitBias(bias: Record<string, number> | null | undefined, vocabSize: number): Record<number, number> | null {
  if (bias == null) return null;
  const out: Record<number, number> = {};
  for (const [key, value] of Object.entries(bias)) {
    const id = Number(key);
    checkTokenIds([id], vocabSize, "logit_bias");
    out[id] = value;
  }
  return out;
}

/** vLLM's RepetitionDetectionParams from the request, its fields 0 where left out, checked as the engine checks them. */
function repetitionDetection(field: SamplingFields["repetition_detection"]): RepetitionDetectionParams | null {
  if (field == null) return null;
  const params = { maxPatternSize: field.max_pattern_size ?? 0, minPatternSize: field.min_pattern_size ?? 0, minCount: field.min_count ?? 0 };
  checkRepetitionDetection(params);
  return params;
}

/**
 * vLLM's logprob_token_ids, which it refuses unless log-probs are asked for (`logprobsAsked`: the
 * completions' logprobs given, chat's logprobs true); an empty list is none, as in vLLM.
 */
export function logprobTokenIdsOf(body: SamplingFields, logprobsAsked: boolean): number[] | null {
  const ids = body.logprob_token_ids;
  if (ids == null || ids.length === 0) return null;
  if (!logprobsAsked) throw new ApiError("invalid_parameter", "when using `logprob_token_ids`, `logprobs` must be set.", "logprob_token_ids");
  return ids;
}

export interface SamplingLimits {
  vocabSize: number;
  /** Top log-probs per generated token, or null for none. */
  logprobs: number | null;
  /** logprob_token_ids (logprobTokenIdsOf), which replace the top log-probs: vLLM then leaves logprobs unset. */
  logprobTokenIds?: number[] | null;
  /** Top log-probs per prompt token, or null for none. */
  promptLogprobs: number | null;
  /** The request field `logprobs` came from (chat's is top_logprobs), which a refusal names. */
  logprobsParam?: string;
  /** The engine's max_logprobs (EngineClient.maxLogprobs; absent: vLLM's default); -1: the whole vocabulary. */
  maxLogprobs?: number;
  /** The model's generation config defaults (EngineClient.defaultSamplingParams). */
  defaults: DefaultSamplingParams;
}

/**
 * The request's sampling fields; maxTokens is filled in per prompt by the route (withMaxTokens),
 * no more than the generation config's max_new_tokens, which this sets as the cap.
 */
export function toSamplingParams(body: SamplingFields, limits: SamplingLimits): SamplingParams {
  const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop;
  if (body.allowed_token_ids != null) checkTokenIds(body.allowed_token_ids, limits.vocabSize, "allowed_token_ids");
  const maxLogprobs = limits.maxLogprobs ?? defaultMaxLogprobs;
  const logprobTokenIds = limits.logprobTokenIds ?? null;
  const logprobs = logprobTokenIds === null ? limits.logprobs : null;
  if (logprobTokenIds !== null) checkLogprobTokenIds(logprobTokenIds, logprobs, limits.vocabSize);
  checkMaxLogprobs(limits.logprobsParam ?? "logprobs", "sample", logprobs, limits.vocabSize, maxLogprobs);
  checkMaxLogprobs("prompt_logprobs", "prompt", limits.promptLogprobs, limits.vocabSize, maxLogprobs);
  const d = limits.defaults;
  return samplingParams({
    maxTokens: d.maxTokens ?? Number.MAX_SAFE_INTEGER,
    n: body.n ?? 1,
    presencePenalty: body.presence_penalty ?? 0,
    frequencyPenalty: body.frequency_penalty ?? 0,
    repetitionPenalty: body.repetition_penalty ?? d.repetitionPenalty ?? 1,
    temperature: body.temperature ?? d.temperature ?? 1,
    topP: body.top_p ?? d.topP ?? 1,
    topK: body.top_k ?? d.topK ?? 0,
    minP: body.min_p ?? d.minP ?? 0,
    seed: body.seed ?? null,
    stop: stop.filter((s) => s !== ""),
    stopTokenIds: body.stop_token_ids ?? [],
    ignoreEos: body.ignore_eos ?? false,
    minTokens: body.min_tokens ?? 0,
    logprobs,
    promptLogprobs: limits.promptLogprobs,
    logprobTokenIds,
    skipSpecialTokens: body.skip_special_tokens ?? true,
    spacesBetweenSpecialTokens: body.spaces_between_special_tokens ?? true,
    includeStopStrInOutput: body.include_stop_str_in_output ?? false,
    logitBias: logitBias(body.logit_bias, limits.vocabSize),
    allowedTokenIds: body.allowed_token_ids ?? null,
    badWords: body.bad_words ?? null,
    structuredOutputs: structuredOutputsOf(body),
    thinkingTokenBudget: body.thinking_token_budget ?? null,
    repetitionDetection: repetitionDetection(body.repetition_detection),
    streamInterval: body.stream_interval ?? null,
  });
}

/**
 * One prompt's params: the shared ones with its own max_tokens, no more than the generation
 * config's cap (vLLM takes the smallest of the two), checked against min_tokens.
 */
export function withMaxTokens(base: SamplingParams, requested: number): SamplingParams {
  const maxTokens = Math.min(requested, base.maxTokens);
  if (base.minTokens > maxTokens) {
    throw new ApiError("invalid_parameter", `min_tokens (${base.minTokens}) must be at most max_tokens (${maxTokens}).`, "min_tokens");
  }
  return { ...base, maxTokens };
}
