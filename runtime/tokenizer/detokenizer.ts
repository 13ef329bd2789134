// Incremental detokenization (vLLM's prefix/read offsets): each push decodes a short window ending at
// the new token and emits the part past the window's already-emitted prefix. Decoding a window rather
// than one token keeps decoder rules that look at neighbours (SentencePiece's "strip the first space",
// multi-byte characters spread over byte tokens) identical to decoding the whole sequence.
import type { IncrementalDetokenizer } from "./types.ts";

export type DecodeFn = (ids: readonly number[], options: { skipSpecialTokens?: boolean }) => string;

export interface DetokenizerOptions {
  skipSpecialTokens?: boolean;
  /**
   * Tokens before the first pushed one (the prompt): context only, never part of `text`. Without it,
   * a SentencePiece tokenizer drops the leading space of the first generated word.
   */
  promptIds?: readonly number[];
}

// Decoding an incomplete UTF-8 sequence ends in U+FFFD: such text waits for the next token.
const replacementChar = "\uFFFD";

export class WindowDetokenizer implements IncrementalDetokenizer {
  private readonly ids: number[];
  private readonly promptLength: number;
  private readonly promptTextLength: number;
  /** Start of the decode window: tokens whose text was already emitted, kept as context. */
  private prefixOffset: number;
  /** Tokens before this index have been emitted. */
  private readOffset: number;

  constructor(private readonly decodeIds: DecodeFn, private readonly options: DetokenizerOptions = {}) {
    this.ids = [...(options.promptIds ?? [])];
    this.promptLength = this.ids.length;
    this.promptTextLength = this.decode(0, this.promptLength).length;
    this.readOffset = this.promptLength;
    this.prefixOffset = this.contextStart(this.promptLength);
  }

  private decode(start: number, end: number): string {
    if (start >= end) return "";
    return this.decodeIds(this.ids.slice(start, end), { skipSpecialTokens: this.options.skipSpecialTokens });
  }

  // The window must start with tokens that decode to visible text: a decoder's first-token rules
  // (strip a leading space, skip special tokens) then act inside the prefix, never on new text.
  private contextStart(end: number): number {
    let start = end;
    while (start > 0 && this.decode(start, end) === "") start--;
    return start;
  }

  push(tokenId: number): string {
    this.ids.push(tokenId);
    const prefixText = this.decode(this.prefixOffset, this.readOffset);
    const newText = this.decode(this.prefixOffset, this.ids.length);
    if (newText.length <= prefixText.length || newText.endsWith(replacementChar)) return "";
    const delta = newText.slice(prefixText.length);
    if (this.decode(this.readOffset, this.ids.length) !== "") this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return delta;
  }

  get text(): string {
    return this.decode(0, this.ids.length).slice(this.promptTextLength);
  }
}
