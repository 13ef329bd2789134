// Request fields -> the engine's SamplingParams, with vLLM's defaults for anything left out (the
// model's generation config first, where it sets them: runtime/engine/generation-defaults.ts), and
// the refusal of fields we do not support yet (a clear 400, never a silent ignore).
import type { DefaultSamplingParams } from "../runtime/engine/generation-defaults.ts";
import { checkMaxLogprobs } from "../runtime/engine/params-validation.ts";
import { samplingParams, type SamplingParams } from "../runtime/engine/types.ts";
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

export interface SamplingLimits {
  vocabSize: number;
  /** Top log-probs per generated token, or null for none. */
  logprobs: number | null;
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
  checkMaxLogprobs(limits.logprobsParam ?? "logprobs", "sample", limits.logprobs, limits.vocabSize, maxLogprobs);
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
    logprobs: limits.logprobs,
    promptLogprobs: limits.promptLogprobs,
    skipSpecialTokens: body.skip_special_tokens ?? true,
    spacesBetweenSpecialTokens: body.spaces_between_special_tokens ?? true,
    includeStopStrInOutput: body.include_stop_str_in_output ?? false,
    logitBias: logitBias(body.logit_bias, limits.vocabSize),
    allowedTokenIds: body.allowed_token_ids ?? null,
    badWords: body.bad_words ?? null,
    structuredOutputs: structuredOutputsOf(body),
    thinkingTokenBudget: body.thinking_token_budget ?? null,
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
