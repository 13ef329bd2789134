// Each token's text as it reads in the middle of an output, in code points, for matching tokens
// against an automaton. A token is read after a context token, so that decoder rules for the first
// token (SentencePiece's dropped leading space) do not apply. Tokens with no text of their own
// are left out: special tokens, tokens that decode to nothing, and byte tokens that are only part
// of a UTF-8 character (they decode to U+FFFD), so characters spelt only by byte tokens cannot
// be written under a structured-output constraint.
import type { Tokenizer } from "../tokenizer/types.ts";

export interface TokenVocabulary {
  readonly vocabSize: number;
  /** Token t's code points are codePoints[offsets[t] .. offsets[t + 1]); none for tokens left out. */
  readonly offsets: Int32Array;
  readonly codePoints: Int32Array;
}

const replacementChar = "\uFFFD";

export function tokenVocabulary(tokenizer: Tokenizer): TokenVocabulary {
  const context = tokenizer.encode("a", { addSpecialTokens: false });
  const contextText = tokenizer.decode(context, { skipSpecialTokens: false });
  const vocabSize = tokenizer.vocabSize;
  const offsets = new Int32Array(vocabSize + 1);
  const codePoints: number[] = [];
  for (let id = 0; id < vocabSize; id++) {
    offsets[id] = codePoints.length;
    if (tokenizer.isSpecial(id)) continue;
    const text = tokenizer.decode([...context, id], { skipSpecialTokens: false });
    if (!text.startsWith(contextText)) continue;
    const own = text.slice(contextText.length);
    if (own.includes(replacementChar)) continue;
    for (const char of own) codePoints.push(char.codePointAt(0)!);
  }
  offsets[vocabSize] = codePoints.length;
  return { vocabSize, offsets, codePoints: Int32Array.from(codePoints) };
}
