// vLLM's thinking_token_budget: a request may spend at most that many tokens inside its reasoning
// section (between the reasoning config's start and end strings, <think> and </think> for the
// DeepSeek-R1 and Qwen3 parsers). Once a sequence has, its next tokens are forced to the end
// sequence, one per step, and the answer follows. Tokens of a section the prompt opened (a chat
// template that ends in <think>) count, as in vLLM. The state of each sequence is kept as its
// output grows, so a step costs the tokens added since the last one.
import type { Tokenizer } from "../tokenizer/types.ts";
import type { ReasoningConfig } from "./config.ts";
import type { Sequence } from "./sequence.ts";

/** The token ids that open and close a reasoning section (vLLM's ReasoningConfig think_start/end_token_ids). */
export interface ReasoningTokens {
  startTokenIds: readonly number[];
  endTokenIds: readonly number[];
}

interface ThinkingState {
  /** Output tokens already read. */
  numRead: number;
  inThink: boolean;
  /** Tokens generated inside the open section. */
  thinkCount: number;
  /** While forcing: how many end tokens were forced so far; -1 when not forcing. */
  forced: number;
}

/** Whether `tokens` ends with `suffix`. */
function endsWith(tokens: readonly number[], end: number, suffix: readonly number[]): boolean {
  if (suffix.length === 0 || end < suffix.length) return false;
  for (let i = 0; i < suffix.length; i++) if (tokens[end - suffix.length + i] !== suffix[i]) return false;
  return true;
}

/** The last index where `needle` starts in tokens[0, end), or -1. */
function lastIndexOf(tokens: readonly number[], end: number, needle: readonly number[]): number {
  for (let at = end - needle.length; at >= 0; at--) if (endsWith(tokens, at + needle.length, needle)) return at;
  return -1;
}

export class ThinkingBudgets {
  private readonly states = new WeakMap<Sequence, ThinkingState>();

  constructor(readonly tokens: ReasoningTokens) {}

  /** The reasoning strings as the tokenizer writes them mid-text (vLLM's ReasoningConfig.initialize_token_ids). */
  static forStrings(reasoning: ReasoningConfig, tokenizer: Pick<Tokenizer, "encode">): ThinkingBudgets {
    const ids = (text: string) => tokenizer.encode(text, { addSpecialTokens: false });
    return new ThinkingBudgets({ startTokenIds: ids(reasoning.thinkStartStr), endTokenIds: ids(reasoning.thinkEndStr) });
  }

  /** The token this sequence must take next because its budget is spent, or null when it samples freely. */
  forcedToken(seq: Sequence): number | null {
    const budget = seq.request.params.thinkingTokenBudget;
    if (budget === null || budget < 0) return null;
    const state = this.stateOf(seq);
    this.read(seq, state, budget);
    return state.forced >= 0 ? this.tokens.endTokenIds[state.forced] : null;
  }

  /** Where the prompt leaves the sequence: inside a section when its last start comes after its last end. */
  private stateOf(seq: Sequence): ThinkingState {
    let state = this.states.get(seq);
    if (state === undefined) {
      const ids = seq.tokenIds;
      const prompt = seq.numPromptTokens;
      const start = lastIndexOf(ids, prompt, this.tokens.startTokenIds);
      const inThink = start >= 0 && start > lastIndexOf(ids, prompt, this.tokens.endTokenIds);
      state = { numRead: 0, inThink, thinkCount: inThink ? prompt - start - this.tokens.startTokenIds.length : 0, forced: -1 };
      this.states.set(seq, state);
    }
    return state;
  }

  /** Reads the output tokens added since the last step, then starts forcing if the budget is spent. */
  private read(seq: Sequence, state: ThinkingState, budget: number): void {
    const ids = seq.tokenIds;
    const { startTokenIds, endTokenIds } = this.tokens;
    for (; state.numRead < seq.numOutputTokens; state.numRead++) {
      const end = seq.numPromptTokens + state.numRead + 1;
      if (state.forced >= 0) {
        state.forced++;
        if (state.forced === endTokenIds.length) Object.assign(state, { forced: -1, inThink: false, thinkCount: 0 });
      } else if (endsWith(ids, end, startTokenIds)) {
        Object.assign(state, { inThink: true, thinkCount: 0 });
      } else if (endsWith(ids, end, endTokenIds)) {
        Object.assign(state, { inThink: false, thinkCount: 0 });
      } else if (state.inThink) {
        state.thinkCount++;
      }
    }
    if (state.forced < 0 && state.inThink && state.thinkCount >= budget) state.forced = 0;
  }
}
