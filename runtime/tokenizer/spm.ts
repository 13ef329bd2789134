// SentencePiece BPE as llama.cpp runs it (llm_tokenizer_spm in src/llama-vocab.cpp), so GGUF "llama"
// vocabularies give llama.cpp's ids exactly: merge the adjacent pair whose concatenation is the
// highest-scoring vocabulary piece (pair-merge.ts), then spell any leftover piece that is not in the
// vocabulary as byte tokens <0xXX>.
//
// llama.cpp also keeps a map from merged text back to the pair it came from ("rev_merge") to split
// pieces that are not tokens; a merged piece is always a token, so only unmerged single characters
// ever reach that path, and they are never in the map: the byte fallback below is the whole story.
import { mergeAdjacentPieces } from "./pair-merge.ts";

export interface SpmVocab {
  tokenToId: ReadonlyMap<string, number>;
  scores: readonly number[];
  /** The token of one raw byte (byte fallback). */
  byteToken(byte: number): number;
}

const encoder = new TextEncoder();

/** Appends the ids of `text` (spaces already escaped as U+2581) to `output`. */
export function spmTokenize(text: string, vocab: SpmVocab, output: number[]): void {
  const scoreOf = (left: string, right: string): number | undefined => {
    const id = vocab.tokenToId.get(left + right);
    return id === undefined ? undefined : vocab.scores[id];
  };
  for (const piece of mergeAdjacentPieces(text, scoreOf)) {
    const id = vocab.tokenToId.get(piece);
    if (id !== undefined) output.push(id);
    else for (const byte of encoder.encode(piece)) output.push(vocab.byteToken(byte));
  }
}
