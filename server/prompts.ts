// Turning request prompts into token ids the engine takes as given, and the checks vLLM users rely
// on: no extra BOS for token-id prompts, token ids inside the vocabulary, and a prompt plus its
// completion that fits max_model_len.
import type { Tokenizer } from "../runtime/tokenizer/types.ts";
import { ApiError } from "./errors.ts";

export interface PreparedPrompt {
  /** The prompt as text: what the user sent, or the decoded token ids. */
  text: string;
  tokenIds: number[];
}

export function checkTokenIds(ids: readonly number[], vocabSize: number, param: string): void {
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new ApiError("invalid_parameter", `Token id ${id} in '${param}' is out of vocabulary (vocab_size is ${vocabSize}).`, param);
    }
  }
}

function textPrompt(text: string, tokenizer: Tokenizer, addSpecialTokens: boolean): PreparedPrompt {
  return { text, tokenIds: tokenizer.encode(text, { addSpecialTokens }) };
}

function tokenPrompt(ids: number[], tokenizer: Tokenizer): PreparedPrompt {
  checkTokenIds(ids, tokenizer.vocabSize, "prompt");
  return { text: tokenizer.decode(ids, { skipSpecialTokens: false }), tokenIds: ids };
}

/** /v1/completions prompts: a string, strings, token ids, or lists of token ids. */
export function completionPrompts(
  prompt: string | string[] | number[] | number[][],
  tokenizer: Tokenizer,
  addSpecialTokens: boolean,
): PreparedPrompt[] {
  if (typeof prompt === "string") return [textPrompt(prompt, tokenizer, addSpecialTokens)];
  const first = prompt[0];
  if (typeof first === "string") return (prompt as string[]).map((p) => textPrompt(p, tokenizer, addSpecialTokens));
  if (typeof first === "number") return [tokenPrompt(prompt as number[], tokenizer)];
  return (prompt as number[][]).map((ids) => tokenPrompt(ids, tokenizer));
}

/** vLLM's truncation_side: "left" keeps the last tokens (its default), "right" the first. */
export type TruncationSide = "left" | "right";

/** Keeps `keep` tokens, as vLLM's truncate_prompt_tokens does: the last ones unless `side` is "right". */
export function truncatePrompt(prompt: PreparedPrompt, keep: number | null | undefined, tokenizer: Tokenizer, side: TruncationSide | null = null): PreparedPrompt {
  if (keep == null || prompt.tokenIds.length <= keep) return prompt;
  const tokenIds = side === "right" ? prompt.tokenIds.slice(0, keep) : prompt.tokenIds.slice(prompt.tokenIds.length - keep);
  return { text: tokenizer.decode(tokenIds, { skipSpecialTokens: false }), tokenIds };
}

/**
 * The max_tokens to send to the engine. A requested value must fit beside the prompt; a default
 * (16 for completions, unbounded for chat) is clipped to the room left.
 */
export function resolveMaxTokens(
  numPromptTokens: number,
  requested: number | null | undefined,
  fallback: number,
  maxModelLen: number,
  promptParam: string,
  maxTokensParam = "max_tokens",
): number {
  if (numPromptTokens === 0) throw new ApiError("invalid_parameter", `The ${promptParam} is empty; it must hold at least one token.`, promptParam);
  if (numPromptTokens >= maxModelLen) {
    throw new ApiError(
      "context_length_exceeded",
      `This model's maximum context length (max_model_len) is ${maxModelLen} tokens, but the ${promptParam} has ${numPromptTokens} tokens, ` +
        `which leaves no room for a completion. Please shorten the ${promptParam}.`,
      promptParam,
    );
  }
  if (requested == null) return Math.min(fallback, maxModelLen - numPromptTokens);
  if (numPromptTokens + requested > maxModelLen) {
    throw new ApiError(
      "context_length_exceeded",
      `This model's maximum context length (max_model_len) is ${maxModelLen} tokens. However, you requested ` +
        `${numPromptTokens + requested} tokens (${numPromptTokens} in the ${promptParam}, ${requested} in the completion). ` +
        `Please reduce the length of the ${promptParam} or of the completion.`,
      maxTokensParam,
    );
  }
  return requested;
}
