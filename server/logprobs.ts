// Engine log-probs (a map per position) -> the two OpenAI wire shapes: the legacy completions
// object of parallel arrays, and chat's list of {token, logprob, bytes, top_logprobs}.
import type { Logprob, PositionLogprobs } from "../runtime/engine/types.ts";
import type { Tokenizer } from "../runtime/tokenizer/types.ts";

/** JSON has no -Infinity; OpenAI and vLLM send -9999 instead. */
export function clampLogprob(logprob: number): number {
  return Number.isNaN(logprob) ? -9999 : Math.max(logprob, -9999);
}

export interface TokenNaming {
  tokenizer: Tokenizer;
  /** return_tokens_as_token_ids: tokens are spelled "token_id:123". */
  asIds: boolean;
}

function tokenName(id: number, entry: Logprob | undefined, naming: TokenNaming): string {
  if (naming.asIds) return `token_id:${id}`;
  return entry?.decodedToken ?? naming.tokenizer.tokenText(id);
}

/** The `count` most likely entries at one position, best first. */
function topEntries(position: PositionLogprobs, count: number): [number, Logprob][] {
  return [...position.entries()].sort((a, b) => a[1].rank - b[1].rank).slice(0, count);
}

export interface CompletionLogprobs {
  text_offset: number[];
  token_logprobs: (number | null)[];
  tokens: string[];
  top_logprobs: (Record<string, number> | null)[];
}

/** Positions without log-probs (the first prompt token) get null entries, as in vLLM. */
export function completionLogprobs(
  tokenIds: readonly number[],
  positions: readonly (PositionLogprobs | null)[],
  numTop: number,
  startOffset: number,
  naming: TokenNaming,
): CompletionLogprobs {
  const out: CompletionLogprobs = { text_offset: [], token_logprobs: [], tokens: [], top_logprobs: [] };
  let offset = startOffset;
  tokenIds.forEach((id, i) => {
    const position = positions[i] ?? null;
    const sampled = position?.get(id);
    const token = tokenName(id, sampled, naming);
    out.tokens.push(token);
    out.text_offset.push(offset);
    offset += token.length;
    if (position === null) {
      out.token_logprobs.push(null);
      out.top_logprobs.push(null);
      return;
    }
    out.token_logprobs.push(sampled ? clampLogprob(sampled.logprob) : -9999);
    const top: Record<string, number> = {};
    if (sampled) top[token] = clampLogprob(sampled.logprob);
    for (const [topId, entry] of topEntries(position, numTop)) top[tokenName(topId, entry, naming)] = clampLogprob(entry.logprob);
    out.top_logprobs.push(top);
  });
  return out;
}

export interface ChatTopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface ChatLogprob extends ChatTopLogprob {
  top_logprobs: ChatTopLogprob[];
}

function chatTop(token: string, logprob: number): ChatTopLogprob {
  return { token, logprob: clampLogprob(logprob), bytes: [...Buffer.from(token, "utf8")] };
}

export function chatLogprobs(
  tokenIds: readonly number[],
  positions: readonly (PositionLogprobs | null)[],
  numTop: number,
  naming: TokenNaming,
): ChatLogprob[] {
  return tokenIds.map((id, i) => {
    const position = positions[i] ?? null;
    const sampled = position?.get(id);
    const top = position ? topEntries(position, numTop).map(([topId, e]) => chatTop(tokenName(topId, e, naming), e.logprob)) : [];
    return { ...chatTop(tokenName(id, sampled, naming), sampled?.logprob ?? -9999), top_logprobs: top };
  });
}

export interface PromptLogprobJson {
  logprob: number;
  rank: number;
  decoded_token: string;
}

/** vLLM's `prompt_logprobs`: per prompt position null or {token id: {logprob, rank, decoded_token}}. */
export function promptLogprobsJson(positions: readonly (PositionLogprobs | null)[] | null): (Record<string, PromptLogprobJson> | null)[] | null {
  if (positions === null) return null;
  return positions.map((position) => {
    if (position === null) return null;
    const out: Record<string, PromptLogprobJson> = {};
    for (const [id, entry] of position) out[id] = { logprob: clampLogprob(entry.logprob), rank: entry.rank, decoded_token: entry.decodedToken };
    return out;
  });
}
