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
