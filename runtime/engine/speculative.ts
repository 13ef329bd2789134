// Speculative decoding by n-gram lookup (vLLM's speculative_config method "ngram", also called
// prompt lookup decoding): when the last few tokens of a sequence occurred before in it, the
// tokens that followed them then are proposed as the next ones, and one forward pass checks them
// all. A decode step reads every weight once whatever its token count, so on a bandwidth-bound
// machine each accepted draft is a token for (almost) nothing. Verification is exact: a draft is
// kept only where the target model, sampling as it would without drafts, drew that very token.
// The drafts are the tokens that followed the most recent earlier occurrence of the sequence's
// longest suffix of promptLookupMax down to promptLookupMin tokens (NgramIndex keeps that lookup).
import { TsvllmError } from "../errors.ts";
import type { Sequence } from "./sequence.ts";

export interface SpeculativeConfig {
  method: "ngram";
  /** Draft tokens proposed per step, at most. */
  numSpeculativeTokens: number;
  /** Longest and shortest suffix looked up (vLLM's prompt_lookup_max / prompt_lookup_min; 5 and 5 when neither is given, else each defaults to the other). */
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
  if (args.method !== "ngram") invalid("method", `method must be "ngram" (the only one without a draft model), got ${JSON.stringify(args.method)}`);
  if (!positiveInteger(args.numSpeculativeTokens)) invalid("numSpeculativeTokens", `numSpeculativeTokens must be a positive integer, got ${args.numSpeculativeTokens}`);
  const max = args.promptLookupMax ?? args.promptLookupMin ?? 5;
  const min = args.promptLookupMin ?? args.promptLookupMax ?? 5;
  if (!positiveInteger(max)) invalid("promptLookupMax", `promptLookupMax must be a positive integer, got ${max}`);
  if (!positiveInteger(min)) invalid("promptLookupMin", `promptLookupMin must be a positive integer, got ${min}`);
  if (min > max) invalid("promptLookupMin", `promptLookupMin (${min}) exceeds promptLookupMax (${max})`);
  const disableByBatchSize = args.disableByBatchSize ?? null;
  if (disableByBatchSize !== null && !positiveInteger(disableByBatchSize)) invalid("disableByBatchSize", `disableByBatchSize must be a positive integer, got ${disableByBatchSize}`);
  return { method: "ngram", numSpeculativeTokens: args.numSpeculativeTokens, promptLookupMax: max, promptLookupMin: min, disableByBatchSize };
}

/**
 * Whether a sequence's next tokens may be drafted. Verifying k drafts samples k + 1 rows at once,
 * row j drawing as the plain run would draw the j-th next token (the same logits, as the drafts
 * before it were accepted, and the same RNG step), and a draft is accepted when its row drew it:
 * so outputs are token for token those without drafts, sampled ones too. That holds where a row's
 * token depends on its logits and step alone: one sequence, no log-probs, and no processor that
 * reads the output so far (penalties, bad words, min_tokens not yet reached, a structured-output
 * constraint).
 */
export function canSpeculate(seq: Sequence): boolean {
  const p = seq.request.params;
  return p.n === 1 && p.logprobs === null && p.repetitionPenalty === 1 && p.presencePenalty === 0 && p.frequencyPenalty === 0 &&
    seq.request.badWordsTokenIds.length === 0 && seq.numOutputTokens >= p.minTokens && seq.request.grammar === null;
}

/** How many drafts verification keeps: the leading ones the target's own draws agree with. */
export function numAcceptedDrafts(drafts: readonly number[], sampled: ArrayLike<number>): number {
  let accepted = 0;
  while (accepted < drafts.length && drafts[accepted] === sampled[accepted]) accepted++;
  return accepted;
}
