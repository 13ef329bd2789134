// The vocabulary a GGUF file embeds (tokenizer.ggml.* keys), with llama.cpp's defaults for absent keys.
import { TsvllmError } from "../errors.ts";
import type { GgufHeader, GgufValue } from "../loader/gguf-reader.ts";
import { bpePreTokenizer, type PreTokenizer } from "./gpt2-bpe.ts";

/** tokenizer.ggml.token_type values (SentencePiece piece types). */
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface GgufVocab {
  /** tokenizer.ggml.model: "llama" (SentencePiece BPE by score) or "gpt2" (byte-level BPE by merge rank). */
  model: "llama" | "gpt2";
  /** The byte-level BPE pre-tokenizer named by tokenizer.ggml.pre; null for SentencePiece. */
  pre: PreTokenizer | null;
  tokens: string[];
  scores: number[];
  types: number[];
  merges: string[];
  bosTokenId: number | null;
  eosTokenId: number | null;
  eotTokenId: number | null;
  unknownTokenId: number | null;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  /** Decoding removes the space before punctuation and some contractions (llama.cpp clean_spaces). */
  cleanSpaces: boolean;
  chatTemplate: string | null;
}

function tokenizerError(header: GgufHeader, message: string, key: string): TsvllmError {
  return new TsvllmError("TSVLLM_ERR_TOKENIZER", `${header.path}: ${message}`, key);
}

function list<T extends GgufValue>(header: GgufHeader, key: string, isItem: (v: GgufValue) => v is T, fallback: T[] | null): T[] {
  const value = header.metadata.get(key);
  if (value === undefined) {
    if (fallback) return fallback;
    throw tokenizerError(header, `missing ${key}`, key);
  }
  if (!Array.isArray(value) || !value.every(isItem)) throw tokenizerError(header, `${key} has the wrong type`, key);
  return value as T[];
}

const isString = (v: GgufValue): v is string => typeof v === "string";
const isNumber = (v: GgufValue): v is number => typeof v === "number";

export function readGgufVocab(header: GgufHeader): GgufVocab {
  const get = (key: string): GgufValue | undefined => header.metadata.get(key);
  const model = get("tokenizer.ggml.model");
  if (model !== "llama" && model !== "gpt2") {
    throw tokenizerError(header, `tokenizer.ggml.model ${JSON.stringify(model)} is not supported (llama, gpt2)`, "tokenizer.ggml.model");
  }
  const tokens = list(header, "tokenizer.ggml.tokens", isString, null);
  const isSpm = model === "llama";
  // Ids may be written as u32 -1 (4294967295) to mean "none".
  const id = (key: string, fallback: number | null): number | null => {
    const value = get(`tokenizer.ggml.${key}`);
    if (typeof value !== "number") return fallback;
    return value >= 0 && value < tokens.length ? value : null;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = get(`tokenizer.ggml.${key}`);
    return typeof value === "boolean" ? value : fallback;
  };
  const template = get("tokenizer.chat_template");
  const preName = get("tokenizer.ggml.pre");
  const pre = isSpm ? null : bpePreTokenizer(typeof preName === "string" ? preName : "default", header.path);
  return {
    model,
    pre,
    tokens,
    scores: list(header, "tokenizer.ggml.scores", isNumber, new Array<number>(tokens.length).fill(0)),
    types: list(header, "tokenizer.ggml.token_type", isNumber, new Array<number>(tokens.length).fill(TokenType.normal)),
    merges: isSpm ? [] : list(header, "tokenizer.ggml.merges", isString, null),
    // llama.cpp's SentencePiece defaults: <s>=1, </s>=2, <unk>=0, BOS added, a space prefixed.
    bosTokenId: id("bos_token_id", isSpm ? 1 : null),
    eosTokenId: id("eos_token_id", isSpm ? 2 : null),
    eotTokenId: id("eot_token_id", null),
    unknownTokenId: id("unknown_token_id", isSpm ? 0 : null),
    addBos: flag("add_bos_token", pre?.addBos ?? true),
    addEos: flag("add_eos_token", false),
    addSpacePrefix: flag("add_space_prefix", isSpm),
    cleanSpaces: pre?.cleanSpaces ?? false,
    chatTemplate: typeof template === "string" ? template : null,
  };
}
