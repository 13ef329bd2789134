// Turns the sampler's flat log-prob slots into vLLM-shaped entries: token id -> log-prob, rank and
// the token's text, the chosen (or prompt) token first, then the top-N.
import type { Tokenizer } from "../tokenizer/types.ts";
import type { LogprobTensors } from "./sampler.ts";
import type { PositionLogprobs } from "./types.ts";

export function positionLogprobs(tensors: LogprobTensors, row: number, tokenizer: Tokenizer): PositionLogprobs {
  const entries: PositionLogprobs = new Map();
  for (let j = 0; j < tensors.width; j++) {
    const k = row * tensors.width + j;
    const tokenId = tensors.tokenIds[k];
    if (tokenId < 0 || entries.has(tokenId)) continue;
    entries.set(tokenId, { logprob: tensors.logprobs[k], rank: tensors.ranks[k], decodedToken: tokenizer.tokenText(tokenId) });
  }
  return entries;
}

/** The chosen token's log-prob: slot 0 of its row. */
export function chosenLogprob(tensors: LogprobTensors, row: number): number {
  return tensors.logprobs[row * tensors.width];
}

/**
 * vLLM's logprob_token_ids: replaces a row's top-N slots (after the sampled token's) with the
 * requested tokens' log-probs under the raw logits, ranked 1..k in the order asked, as vLLM numbers
 * the slots after the sampled one. The native sampler put the top-1 token in slot 1; its log-prob
 * gives the row's log-sum-exp (logit - log-prob), so each requested token costs one subtraction
 * and the vocabulary is never walked here. The top-1 token, unlike the sampled one, always has a
 * finite logit, and its log-prob is the nearest to 0, where float32 loses least.
 */
export function writeRequestedLogprobs(tensors: LogprobTensors, row: number, rawLogits: Float32Array, requested: readonly number[]): void {
  const base = row * tensors.width;
  const logSumExp = topOneLogSumExp(tensors, row, rawLogits);
  requested.forEach((tokenId, j) => {
    tensors.tokenIds[base + 1 + j] = tokenId;
    tensors.logprobs[base + 1 + j] = rawLogits[tokenId] - logSumExp;
    tensors.ranks[base + 1 + j] = j + 1;
  });
}

/** A row's log-sum-exp from its top-1 entry (slot 1): that token's raw logit less its log-prob. */
function topOneLogSumExp(tensors: LogprobTensors, row: number, rawLogits: Float32Array): number {
  const base = row * tensors.width;
  return rawLogits[tensors.tokenIds[base + 1]] - tensors.logprobs[base + 1];
}

/**
 * One row of vLLM's prompt_token_id_logprobs: the requested tokens' raw log-probs in the order
 * asked, padded to `width` with -Infinity, as vLLM scores its -1 padding. The normalizer comes from
 * the top-1 entry as in writeRequestedLogprobs, so no vocabulary walk happens here.
 */
export function requestedTokenLogprobs(tensors: LogprobTensors, row: number, rawLogits: Float32Array, requested: readonly number[], width: number): number[] {
  const logSumExp = topOneLogSumExp(tensors, row, rawLogits);
  return Array.from({ length: width }, (_, j) => {
    const tokenId = requested[j] ?? -1;
    return tokenId < 0 ? -Infinity : rawLogits[tokenId] - logSumExp;
  });
}
