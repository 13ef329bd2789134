// Streams are built from the engine's cumulative outputs: each choice remembers how much text and
// how many tokens it has sent, and each new output becomes the difference.
import type { CompletionOutput, RequestOutput } from "../../runtime/engine/types.ts";

export interface ChoiceDelta {
  /** The choice index on the wire (prompt index * n + output index). */
  index: number;
  output: CompletionOutput;
  text: string;
  /** Where `text` starts in the choice's whole text. */
  textOffset: number;
  tokenIds: number[];
  /** Where `tokenIds` start in the choice's token ids. */
  tokenOffset: number;
  /** True for the choice's first delta. */
  first: boolean;
  /** True when this delta ends the choice. */
  last: boolean;
}

interface ChoiceState {
  textLength: number;
  numTokens: number;
  finished: boolean;
}

export class DeltaTracker {
  private readonly choices = new Map<number, ChoiceState>();
  /** Each prompt's prefix-cache hit (by its indexBase), as the engine last reported it. */
  private readonly cachedTokensByPrompt = new Map<number, number>();

  /** The new text and tokens of each choice in `output`; finished choices yield nothing more. */
  deltas(output: RequestOutput, indexBase: number): ChoiceDelta[] {
    this.cachedTokensByPrompt.set(indexBase, output.numCachedTokens ?? 0);
    const deltas: ChoiceDelta[] = [];
    for (const completion of output.outputs) {
      const index = indexBase + completion.index;
      let state = this.choices.get(index);
      const first = state === undefined;
      state ??= { textLength: 0, numTokens: 0, finished: false };
      this.choices.set(index, state);
      if (state.finished) continue;
      // The engine never retracts streamed text; if its text shrank, send nothing until it grows again.
      const text = completion.text.length > state.textLength ? completion.text.slice(state.textLength) : "";
      const tokenIds = completion.tokenIds.slice(state.numTokens);
      const last = completion.finishReason !== null || output.finished;
      deltas.push({ index, output: completion, text, textOffset: state.textLength, tokenIds, tokenOffset: state.numTokens, first, last });
      state.textLength += text.length;
      state.numTokens = completion.tokenIds.length;
      state.finished = last;
    }
    return deltas;
  }

  /** Tokens generated so far over every choice (usage.completion_tokens). */
  get completionTokens(): number {
    let total = 0;
    for (const state of this.choices.values()) total += state.numTokens;
    return total;
  }

  /** Prompt tokens served from the prefix cache over every prompt seen so far. */
  get cachedTokens(): number {
    let total = 0;
    for (const cached of this.cachedTokensByPrompt.values()) total += cached;
    return total;
  }
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

/**
 * With --enable-prompt-tokens-details, pass the prompt tokens read from the prefix cache: as in
 * vLLM, prompt_tokens_details appears only when there were some.
 */
export function usage(promptTokens: number, completionTokens: number, cachedTokens = 0): Usage {
  const details = cachedTokens > 0 ? { prompt_tokens_details: { cached_tokens: cachedTokens } } : {};
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens, ...details };
}
