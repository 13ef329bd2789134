// Scores of text pairs (vLLM's LLM.score, /score and /rerank). An embedding model embeds each text
// once and a pair scores the cosine similarity of its two embeddings; a one-label sequence
// classifier is a cross-encoder, which classifies each pair encoded as one input (the tokenizer's
// pair template) and scores its activated logit. The pairing follows vLLM's rules: one text
// against one, one against many, or many against as many, pairwise.
import { TsvllmError } from "../errors.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import type { ClassifierHead } from "./classifier.ts";

/** The pairs of indices (into texts1, texts2) to score, by vLLM's 1:1, 1:N, N:N rule; throws on any other shape. */
export function scorePairs(numTexts1: number, numTexts2: number): [number, number][] {
  const fail = (message: string, param: string): never => {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", message, param);
  };
  if (numTexts1 > 1 && numTexts1 !== numTexts2) fail("Input lengths must be either 1:1, 1:N or N:N", "text_2");
  if (numTexts1 === 0) fail("At least one text element must be given", "text_1");
  if (numTexts2 === 0) fail("At least one text_pair element must be given", "text_2");
  return Array.from({ length: numTexts2 }, (_, j): [number, number] => [numTexts1 === 1 ? 0 : j, j]);
}

/**
 * Why a sequence classifier cannot score pairs, or null when it can (or the model embeds). vLLM
 * scores with one only when it has a single label (its cross-encoder task; the message is vLLM's),
 * on the pair encoded together, which needs a tokenizer with a pair template.
 */
export function classifierScoreError(classifier: ClassifierHead | null | undefined, tokenizer: Tokenizer): string | null {
  if (!classifier) return null;
  if (classifier.numLabels !== 1) return "Score API is only enabled for num_labels == 1.";
  if (!tokenizer.encodePair) return "Scoring with a cross-encoder encodes each pair with the tokenizer's pair template, which this tokenizer (a GGUF vocabulary) does not have; load the model's Hugging Face tokenizer (--tokenizer).";
  return null;
}

/** Each pair encoded as a cross-encoder reads it, by vLLM's pairing; the texts must be strings (a pair template needs text). */
export function crossEncoderPrompts(texts1: readonly unknown[], texts2: readonly unknown[], tokenizer: Tokenizer): number[][] {
  return scorePairs(texts1.length, texts2.length).map(([i, j]) => {
    const [a, b] = [texts1[i], texts2[j]];
    if (typeof a !== "string" || typeof b !== "string") throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "a cross-encoder scores text pairs: token-id inputs cannot be paired", typeof a !== "string" ? "text_1" : "text_2");
    return tokenizer.encodePair!(a, b);
  });
}

/** Cosine similarity, in float64; 0 when either vector is all zeros (torch's eps keeps it finite there too). */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < a.length; k++) {
    dot += a[k] * b[k];
    aa += a[k] * a[k];
    bb += b[k] * b[k];
  }
  const norms = Math.sqrt(aa) * Math.sqrt(bb);
  return norms > 0 ? dot / norms : 0;
}
