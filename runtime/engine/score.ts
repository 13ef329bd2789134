// Scores for an embedding model (vLLM's LLM.score, /score and /rerank without a cross-encoder):
// each text is embedded once, and a pair's score is the cosine similarity of its two embeddings.
// The pairing follows vLLM's rules: one text against one, one against many, or many against as
// many, pairwise.
import { TsvllmError } from "../errors.ts";
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
 * Why a sequence classifier cannot score pairs here, or null for any other model. vLLM scores
 * with one only when it has a single label (its cross-encoder task; the message is vLLM's), and
 * then on the pair encoded together (the tokenizer's text/text_pair template, as transformers
 * builds it), which tsvllm's tokenizer does not offer: such a model is refused too.
 */
export function classifierScoreError(classifier: ClassifierHead | null | undefined): string | null {
  if (!classifier) return null;
  if (classifier.numLabels !== 1) return "Score API is only enabled for num_labels == 1.";
  return "Scoring with a sequence classifier (a cross-encoder) needs the tokenizer's text-pair encoding, which tsvllm does not support yet; this model serves /classify (LLM.classify).";
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
