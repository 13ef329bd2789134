// Rejects sampling params and prompts the engine cannot honour, with vLLM's limits and a
// TsvllmError naming the offending field, before anything is queued.
import { TsvllmError } from "../errors.ts";
import type { RepetitionDetectionParams, SamplingParams } from "./types.ts";

function invalid(param: string, message: string): never {
  throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", message, param);
}

function checkTokenId(id: number, vocabSize: number, param: string): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) invalid(param, `${param} holds token id ${id}, outside the vocabulary [0, ${vocabSize})`);
}

/**
 * vLLM's max_logprobs, in its words: -1 on either side stands for the whole vocabulary. `param` is
 * the request field the count came from (the server's may be chat's top_logprobs).
 */
export function checkMaxLogprobs(param: string, kind: "sample" | "prompt", value: number | null, vocabSize: number, maxLogprobs: number): void {
  if (!value) return;
  const requested = value === -1 ? vocabSize : value;
  const allowed = maxLogprobs === -1 ? vocabSize : maxLogprobs;
  if (requested > allowed) invalid(param, `Requested ${kind} logprobs of ${requested}, which is greater than max allowed: ${allowed} (the server's --max-logprobs)`);
}

/** vLLM's RepetitionDetectionParams checks: sizes >= 0 with min <= max, and min_count >= 2 while detection is on. */
export function checkRepetitionDetection(r: RepetitionDetectionParams): void {
  const param = "repetition_detection";
  const { maxPatternSize, minPatternSize, minCount } = r;
  if (![maxPatternSize, minPatternSize, minCount].every(Number.isSafeInteger)) invalid(param, "repetition_detection's max_pattern_size, min_pattern_size and min_count must be integers");
  if (maxPatternSize < 0 || minPatternSize < 0 || minPatternSize > maxPatternSize) {
    invalid(param, `repetition_detection's max_pattern_size and min_pattern_size must be >= 0, with min_pattern_size <= max_pattern_size (0 and 0 disable it), got ${minPatternSize} and ${maxPatternSize}`);
  }
  if (maxPatternSize > 0 && minCount < 2) invalid(param, `repetition_detection's min_count must be >= 2 to detect repeated patterns (max_pattern_size 0 disables it), got ${minCount}`);
}

/** vLLM's MAX_LOGPROB_TOKEN_IDS: the most logprob_token_ids a request may name. */
export const maxLogprobTokenIds = 128;

/** vLLM's logprob_token_ids checks: 1 to 128 ids inside the vocabulary, and logprobs unset or their count. */
export function checkLogprobTokenIds(ids: readonly number[], logprobs: number | null, vocabSize: number): void {
  const param = "logprob_token_ids";
  if (ids.length === 0) invalid(param, "logprob_token_ids must not be empty (leave it out for none)");
  if (ids.length > maxLogprobTokenIds) invalid(param, `Requested logprob_token_ids of length ${ids.length}, which is greater than max allowed: ${maxLogprobTokenIds}`);
  for (const id of ids) checkTokenId(id, vocabSize, param);
  if (logprobs !== null && logprobs !== ids.length) {
    invalid(param, `When both logprobs and logprob_token_ids are set, logprobs must equal len(logprob_token_ids). Got logprobs=${logprobs}, len(logprob_token_ids)=${ids.length}.`);
  }
}

/**
 * vLLM's prompt_logprob_token_ids checks: one row per prompt position from prompt_logprob_start to
 * the one before the last (prompt length - 1 - start rows), rows no longer than --max-logprobs, ids
 * inside the vocabulary or -1 (padding).
 */
export function checkPromptLogprobTokenIds(p: SamplingParams, promptLength: number, vocabSize: number, maxLogprobs: number): void {
  const param = "prompt_logprob_token_ids";
  const start = p.promptLogprobStart ?? 0;
  if (!Number.isSafeInteger(start) || start < 0 || start >= promptLength) {
    invalid("prompt_logprob_start", `prompt_logprob_start must be a prompt position in [0, ${promptLength}), got ${start}`);
  }
  const rows = p.promptLogprobTokenIds!;
  const expected = promptLength - 1 - start;
  if (rows.length !== expected) invalid(param, `prompt_logprob_token_ids must have one row per scored prompt position: ${expected} (prompt length ${promptLength} - 1 - prompt_logprob_start ${start}), got ${rows.length}`);
  const widest = rows.reduce((most, row) => Math.max(most, row.length), 0);
  checkMaxLogprobs(param, "prompt", widest, vocabSize, maxLogprobs);
  for (const row of rows) for (const id of row) if (id !== -1) checkTokenId(id, vocabSize, param);
}

export function validateSamplingParams(p: SamplingParams, vocabSize: number, maxNumSeqs: number, maxLogprobs: number): void {
  if (!Number.isInteger(p.n) || p.n < 1) invalid("n", `n must be a positive integer, got ${p.n}`);
  if (p.n > maxNumSeqs) invalid("n", `n (${p.n}) exceeds maxNumSeqs (${maxNumSeqs})`);
  if (!(p.temperature >= 0)) invalid("temperature", `temperature must be >= 0, got ${p.temperature}`);
  if (!(p.topP > 0 && p.topP <= 1)) invalid("top_p", `top_p must be in (0, 1], got ${p.topP}`);
  if (!Number.isInteger(p.topK) || p.topK < -1) invalid("top_k", `top_k must be -1, 0 (all) or a positive integer, got ${p.topK}`);
  if (!(p.minP >= 0 && p.minP <= 1)) invalid("min_p", `min_p must be in [0, 1], got ${p.minP}`);
  if (!(p.repetitionPenalty > 0 && p.repetitionPenalty <= 2 ** 31)) invalid("repetition_penalty", `repetition_penalty must be > 0, got ${p.repetitionPenalty}`);
  if (!(p.presencePenalty >= -2 && p.presencePenalty <= 2)) invalid("presence_penalty", `presence_penalty must be in [-2, 2], got ${p.presencePenalty}`);
  if (!(p.frequencyPenalty >= -2 && p.frequencyPenalty <= 2)) invalid("frequency_penalty", `frequency_penalty must be in [-2, 2], got ${p.frequencyPenalty}`);
  if (!Number.isInteger(p.maxTokens) || p.maxTokens < 1) invalid("max_tokens", `max_tokens must be at least 1, got ${p.maxTokens}`);
  if (!Number.isInteger(p.minTokens) || p.minTokens < 0 || p.minTokens > p.maxTokens) {
    invalid("min_tokens", `min_tokens must be in [0, max_tokens], got ${p.minTokens}`);
  }
  if (p.thinkingTokenBudget !== null && !(Number.isInteger(p.thinkingTokenBudget) && p.thinkingTokenBudget >= -1)) {
    invalid("thinking_token_budget", `thinking_token_budget must be -1 (no limit) or a count >= 0, got ${p.thinkingTokenBudget}`);
  }
  if (p.repetitionDetection !== null) checkRepetitionDetection(p.repetitionDetection);
  if (p.streamInterval !== null && !(Number.isSafeInteger(p.streamInterval) && p.streamInterval >= 1)) invalid("stream_interval", `stream_interval must be at least 1, got ${p.streamInterval}`);
  if (p.seed !== null && !Number.isSafeInteger(p.seed)) invalid("seed", `seed must be an integer, got ${p.seed}`);
  for (const [name, value] of [["logprobs", p.logprobs], ["prompt_logprobs", p.promptLogprobs]] as const) {
    if (value !== null && (!Number.isInteger(value) || value < -1)) invalid(name, `${name} must be -1 (whole vocabulary) or a count >= 0, got ${value}`);
    checkMaxLogprobs(name, name === "logprobs" ? "sample" : "prompt", value, vocabSize, maxLogprobs);
  }
  if (p.logprobTokenIds !== null) checkLogprobTokenIds(p.logprobTokenIds, p.logprobs, vocabSize);
  for (const id of p.stopTokenIds) checkTokenId(id, vocabSize, "stop_token_ids");
  if (p.allowedTokenIds !== null) {
    if (p.allowedTokenIds.length === 0) invalid("allowed_token_ids", "allowed_token_ids must not be empty");
    for (const id of p.allowedTokenIds) checkTokenId(id, vocabSize, "allowed_token_ids");
  }
  if (p.allowedTokenIds !== null && p.structuredOutputs !== null) invalid("allowed_token_ids", "allowed_token_ids cannot be combined with structured outputs, which choose the allowed tokens themselves");
  for (const [id, bias] of Object.entries(p.logitBias ?? {})) {
    checkTokenId(Number(id), vocabSize, "logit_bias");
    if (!Number.isFinite(bias)) invalid("logit_bias", `logit_bias for token ${id} must be a finite number`);
  }
}

export function validatePromptTokens(ids: readonly number[], vocabSize: number, maxModelLen: number): void {
  if (ids.length === 0) invalid("prompt", "the prompt must contain at least one token");
  for (const id of ids) checkTokenId(id, vocabSize, "prompt");
  if (ids.length > maxModelLen) {
    throw new TsvllmError("TSVLLM_ERR_PROMPT_TOO_LONG", `the prompt has ${ids.length} tokens, more than maxModelLen (${maxModelLen})`, "prompt");
  }
}
