// Speculative decoding (vLLM's speculative_config): drafts of a sequence's next tokens, checked all
// at once by one forward pass of the target model. A decode step reads every weight once whatever
// its token count, so on a bandwidth-bound machine each accepted draft is a token for (almost)
// nothing. Verification is exact: a draft is kept only where the target model, sampling as it
// would without drafts, drew that very token. Two proposers:
//   "ngram" (prompt lookup decoding): the tokens that followed the most recent earlier occurrence
//     of the sequence's longest suffix of promptLookupMax down to promptLookupMin tokens
//     (NgramIndex keeps that lookup);
//   "draft_model": a smaller model with the target's vocabulary, run greedily for
//     numSpeculativeTokens steps (draft-model.ts).
import { TsvllmError } from "../errors.ts";
import type { Sequence } from "./sequence.ts";
import { numLogprobs } from "./types.ts";

export interface SpeculativeConfig {
  method: "ngram" | "draft_model";
  /** The draft model (a directory, GGUF file or hub id) of method "draft_model"; null for "ngram". */
  model: string | null;
  /** Draft tokens proposed per step, at most. */
  numSpeculativeTokens: number;
  /** Method "ngram": the longest and shortest suffix looked up (vLLM's prompt_lookup_max / prompt_lookup_min; 5 and 5 when neither is given, else each defaults to the other); 0 for "draft_model". */
  promptLookupMax: number;
  promptLookupMin: number;
  /**
   * No drafts while this many sequences or more are running or waiting (vLLM V0's
   * speculative_disable_by_batch_size): a full batch is bound by compute, not by reading the
   * weights, and verifying drafts that fail only adds work; null: always draft.
   */
  disableByBatchSize: number | null;
}

export type SpeculativeArgs = Partial<SpeculativeConfig>;

function invalid(field: string, message: string): never {
  throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `speculativeConfig: ${message}`, `speculativeConfig.${field}`);
}

const positiveInteger = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value) && value > 0;

export function resolveSpeculativeConfig(args: SpeculativeArgs): SpeculativeConfig {
  // As in vLLM, a config that names a model drafts with it, and one without needs a method.
  const method = args.method ?? (args.model ? "draft_model" : undefined);
  if (method !== "ngram" && method !== "draft_model") invalid("method", `method must be "ngram" or "draft_model" (or give a draft model), got ${JSON.stringify(args.method)}`);
  if (!positiveInteger(args.numSpeculativeTokens)) invalid("numSpeculativeTokens", `numSpeculativeTokens must be a positive integer, got ${args.numSpeculativeTokens}`);
  const disableByBatchSize = args.disableByBatchSize ?? null;
  if (disableByBatchSize !== null && !positiveInteger(disableByBatchSize)) invalid("disableByBatchSize", `disableByBatchSize must be a positive integer, got ${disableByBatchSize}`);
  if (method === "draft_model") {
    if (typeof args.model !== "string" || args.model === "") invalid("model", `method "draft_model" needs the draft model's path or hub id, got ${JSON.stringify(args.model)}`);
    return { method, model: args.model, numSpeculativeTokens: args.numSpeculativeTokens, promptLookupMax: 0, promptLookupMin: 0, disableByBatchSize };
  }
  if (args.model) invalid("model", `method "ngram" drafts without a model; got model ${JSON.stringify(args.model)}`);
  const max = args.promptLookupMax ?? args.promptLookupMin ?? 5;
  const min = args.promptLookupMin ?? args.promptLookupMax ?? 5;
  if (!positiveInteger(max)) invalid("promptLookupMax", `promptLookupMax must be a positive integer, got ${max}`);
  if (!positiveInteger(min)) invalid("promptLookupMin", `promptLookupMin must be a positive integer, got ${min}`);
  if (min > max) invalid("promptLookupMin", `promptLookupMin (${min}) exceeds promptLookupMax (${max})`);
  return { method, model: null, numSpeculativeTokens: args.numSpeculativeTokens, promptLookupMax: max, promptLookupMin: min, disableByBatchSize };
}

/**
 * Whether a sequence's next tokens may be drafted. Verifying k drafts samples k + 1 rows at once,
 * row j drawing as the plain run would draw the j-th next token (the same logits, as the drafts
 * before it were accepted, and the same RNG step), and a draft is accepted when its row drew it:
 * so outputs are token for token those without drafts, sampled ones too. That holds where a row's
 * token depends on its logits and step alone: one sequence, no log-probs, and no processor that
 * reads the output so far (penalties, bad words, min_tokens not yet reached, a structured-output
 * constraint, a thinking budget).
 */
export function canSpeculate(seq: Sequence): boolean {
  const p = seq.request.params;
  return p.n === 1 && numLogprobs(p) === null && p.repetitionPenalty === 1 && p.presencePenalty === 0 && p.frequencyPenalty === 0 &&
    seq.request.badWordsTokenIds.length === 0 && seq.numOutputTokens >= p.minTokens && seq.request.grammar === null && (p.thinkingTokenBudget ?? -1) < 0;
}

/** How many drafts verification keeps: the leading ones the target's own draws agree with. */
export function numAcceptedDrafts(drafts: readonly number[], sampled: ArrayLike<number>): number {
  let accepted = 0;
  while (accepted < drafts.length && drafts[accepted] === sampled[accepted]) accepted++;
  return accepted;
}
