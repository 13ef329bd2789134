// Every random model speaks the stories260K tokenizer (512-piece SentencePiece vocab, bos 1, eos 2):
// the HF files come from stories260K-hf, the GGUF vocabulary from stories260K.gguf, and both
// describe the same tokenizer (checked token for token against llama.cpp, see its PROVENANCE.md).
// Shapes with a larger vocab_size pad the GGUF vocabulary the way convert_hf_to_gguf.py pads a
// SentencePiece vocab smaller than the model ("[PAD<i>]", score -1000, type UNUSED); the HF
// tokenizer simply never produces the padded ids. The Gemma converters also write
// add_space_prefix=false, a property of Gemma's own tokenizer: with this one it would make llama.cpp
// tokenize differently from tokenizer.json, so it is left out.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readGgufMetadata } from "./gguf-metadata-reader.ts";
import { bool, str, type GgufValue } from "./gguf-values.ts";

export interface TokenizerSource {
  /** A folder with tokenizer.json, tokenizer_config.json and special_tokens_map.json. */
  hfDir: string;
  /** A GGUF whose tokenizer.ggml.* metadata is the same tokenizer. */
  gguf: string;
}

/** The shared models folder ($TSVLLM_SHARED_MODELS, else /work/shared/models). */
export function defaultTokenizerSource(): TokenizerSource {
  const sharedModels = process.env.TSVLLM_SHARED_MODELS ?? "/work/shared/models";
  return { hfDir: join(sharedModels, "stories260K-hf"), gguf: join(sharedModels, "stories260K", "stories260K.gguf") };
}

const hfTokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

/** Copies the contents, not the file modes: the shared originals are read-only. */
export function copyHfTokenizer(source: TokenizerSource, outDir: string): void {
  for (const file of hfTokenizerFiles) writeFileSync(join(outDir, file), readFileSync(join(source.hfDir, file)));
}

/** SentencePiece token type ids (gguf-py TokenType). */
const unusedTokenType = 5;

/** Keys copied as they are: the vocabulary and its special ids. */
const copiedKeys = [
  "tokenizer.ggml.model",
  "tokenizer.ggml.tokens",
  "tokenizer.ggml.scores",
  "tokenizer.ggml.token_type",
  "tokenizer.ggml.bos_token_id",
  "tokenizer.ggml.eos_token_id",
  "tokenizer.ggml.unknown_token_id",
];

function arrayValues<T>(value: GgufValue | undefined, key: string): T[] {
  if (value?.type !== "array") throw new Error(`tokenizer GGUF lacks the array ${key}`);
  return Array.from(value.value as ArrayLike<T>);
}

/** tokenizer.ggml.* keys for a model with vocabSize embedding rows. */
export function ggufTokenizerMetadata(source: TokenizerSource, vocabSize: number): [string, GgufValue][] {
  const metadata = readGgufMetadata(source.gguf);
  const tokens = arrayValues<string>(metadata.get("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens");
  const scores = arrayValues<number>(metadata.get("tokenizer.ggml.scores"), "tokenizer.ggml.scores");
  const tokenTypes = arrayValues<number>(metadata.get("tokenizer.ggml.token_type"), "tokenizer.ggml.token_type");
  if (vocabSize < tokens.length) throw new Error(`vocab_size ${vocabSize} is smaller than the tokenizer's ${tokens.length} tokens`);
  for (let i = 1; tokens.length < vocabSize; i++) {
    tokens.push(`[PAD${i}]`);
    scores.push(-1000);
    tokenTypes.push(unusedTokenType);
  }
  const padded: Record<string, GgufValue> = {
    "tokenizer.ggml.tokens": { type: "array", itemType: "string", value: tokens },
    "tokenizer.ggml.scores": { type: "array", itemType: "float32", value: scores },
    "tokenizer.ggml.token_type": { type: "array", itemType: "int32", value: tokenTypes },
  };
  const entries: [string, GgufValue][] = copiedKeys.map((key) => {
    const value = padded[key] ?? metadata.get(key);
    if (value === undefined) throw new Error(`tokenizer GGUF ${source.gguf} lacks ${key}`);
    return [key, value];
  });
  // What the converter adds for a SentencePiece vocab: the "default" pre-tokenizer, and the BOS/EOS
  // flags of tokenizer_config.json.
  const tokenizerConfig = JSON.parse(readFileSync(join(source.hfDir, "tokenizer_config.json"), "utf8")) as {
    add_bos_token: boolean;
    add_eos_token: boolean;
  };
  return [
    ...entries,
    ["tokenizer.ggml.pre", str("default")],
    ["tokenizer.ggml.add_bos_token", bool(tokenizerConfig.add_bos_token)],
    ["tokenizer.ggml.add_eos_token", bool(tokenizerConfig.add_eos_token)],
  ];
}
