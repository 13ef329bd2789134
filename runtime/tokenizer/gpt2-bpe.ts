// Byte-level BPE for GGUF "gpt2" vocabularies, as llama.cpp's llm_tokenizer_bpe runs it: split the
// text with the pre-tokenizer regexes named by tokenizer.ggml.pre, map each word's UTF-8 bytes to
// GPT-2's printable byte alphabet, then merge adjacent pieces by merge rank (lowest first, ties
// leftmost; pair-merge.ts). Each regex of a list splits the pieces left by the previous one; gaps
// between matches stay pieces of their own.
import { TsvllmError } from "../errors.ts";
import type { GgufVocab } from "./gguf-vocab.ts";
import { mergeAdjacentPieces } from "./pair-merge.ts";

const contractions = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const gpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

export interface PreTokenizer {
  patterns: string[];
  /** Llama-3 looks a whole word up in the vocabulary before merging ("ignore_merges"). */
  wholeWordFirst: boolean;
  /** Whether decoding removes the space before punctuation and contractions (llama.cpp clean_spaces). */
  cleanSpaces: boolean;
  /** BOS default when the GGUF has no tokenizer.ggml.add_bos_token. */
  addBos: boolean;
}

// llama.cpp's settings per tokenizer.ggml.pre, for the pre-tokenizers of the supported families.
const preTokenizers: Record<string, PreTokenizer> = {
  default: {
    patterns: ["[\\p{P}\\$\\+<=>\\^~\\|]+", gpt2Pattern, "\\p{N}+", "[0-9][0-9][0-9]"],
    wholeWordFirst: false, cleanSpaces: true, addBos: false,
  },
  "gpt-2": { patterns: [gpt2Pattern], wholeWordFirst: false, cleanSpaces: true, addBos: false },
  "llama-bpe": {
    patterns: [`${contractions}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`],
    wholeWordFirst: true, cleanSpaces: true, addBos: true,
  },
  qwen2: {
    patterns: [`${contractions}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`],
    wholeWordFirst: false, cleanSpaces: false, addBos: false,
  },
};
const preTokenizerAliases: Record<string, string> = {
  gpt2: "gpt-2", llama3: "llama-bpe", "llama-v3": "llama-bpe", "deepseek-r1-qwen": "qwen2",
};

/** The pre-tokenizer named by tokenizer.ggml.pre; `file` names the GGUF in the error. */
export function bpePreTokenizer(pre: string, file: string): PreTokenizer {
  const found = preTokenizers[preTokenizerAliases[pre] ?? pre];
  if (!found) {
    throw new TsvllmError("TSVLLM_ERR_TOKENIZER", `${file}: tokenizer.ggml.pre "${pre}" is not supported (${Object.keys(preTokenizers).join(", ")})`, "tokenizer.ggml.pre");
  }
  return found;
}

// GPT-2 spells bytes as printable characters: printable Latin-1 bytes stand for themselves, the
// other 68 bytes take the code points from U+0100 up, in byte order.
function byteAlphabet(): { toChar: string[]; toByte: Map<string, number> } {
  const toChar: string[] = [];
  const toByte = new Map<string, number>();
  let extra = 0;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
    toChar[byte] = String.fromCodePoint(printable ? byte : 256 + extra++);
    toByte.set(toChar[byte], byte);
  }
  return { toChar, toByte };
}

const alphabet = byteAlphabet();
const encoder = new TextEncoder();

export class Gpt2Bpe {
  private readonly ranks = new Map<string, number>();
  private readonly regexes: RegExp[];

  constructor(vocab: GgufVocab, private readonly pre: PreTokenizer, private readonly tokenToId: ReadonlyMap<string, number>) {
    this.regexes = pre.patterns.map((pattern) => new RegExp(pattern, "gu"));
    // A merge "a b" is keyed by its two sides joined with a space (GPT-2 pieces never hold one).
    vocab.merges.forEach((merge, rank) => this.ranks.set(merge, rank));
  }

  private split(text: string): string[] {
    let words = [text];
    for (const regex of this.regexes) {
      words = words.flatMap((word) => {
        const parts: string[] = [];
        let end = 0;
        for (const match of word.matchAll(regex)) {
          if (match.index > end) parts.push(word.slice(end, match.index));
          parts.push(match[0]);
          end = match.index + match[0].length;
        }
        if (end < word.length) parts.push(word.slice(end));
        return parts;
      });
    }
    return words;
  }

  /** Appends the ids of `text` (a fragment with no special tokens) to `output`. */
  tokenize(text: string, output: number[]): void {
    for (const word of this.split(text)) {
      const mapped = Array.from(encoder.encode(word), (byte) => alphabet.toChar[byte]).join("");
      const whole = this.pre.wholeWordFirst ? this.tokenToId.get(mapped) : undefined;
      if (whole !== undefined) output.push(whole);
      else this.merge(mapped, output);
    }
  }

  private merge(word: string, output: number[]): void {
    // Lower ranks merge first: the rank, negated, is the priority.
    const priorityOf = (left: string, right: string): number | undefined => {
      const rank = this.ranks.get(`${left} ${right}`);
      return rank === undefined ? undefined : -rank;
    };
    for (const piece of mergeAdjacentPieces(word, priorityOf)) {
      const id = this.tokenToId.get(piece);
      if (id !== undefined) {
        output.push(id);
        continue;
      }
      // As llama.cpp: look each UTF-8 byte up as a one-byte piece; only ASCII bytes can match.
      for (const byte of encoder.encode(piece)) {
        const byteId = byte < 0x80 ? this.tokenToId.get(String.fromCharCode(byte)) : undefined;
        if (byteId !== undefined) output.push(byteId);
      }
    }
  }

  /** The raw bytes a byte-level token stands for. */
  tokenBytes(text: string): Uint8Array {
    const bytes: number[] = [];
    for (const char of text) {
      const byte = alphabet.toByte.get(char);
      if (byte !== undefined) bytes.push(byte);
      else bytes.push(...encoder.encode(char));
    }
    return Uint8Array.from(bytes);
  }
}
