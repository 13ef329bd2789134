// A sequence-classification model's head (vLLM's as_seq_cls_model: the `score` linear, no bias, in
// float32 whatever the model's dtype) and the activation vLLM's classify pooler puts on its logits.
// The engine applies it to the pooled state of a prompt, which is one row per prompt: a tiny
// matrix-vector product that needs no place in the compiled forward pass.

/**
 * vLLM's get_classification_activation_function, aligned with transformers' loss for
 * problem_type: "regression" keeps the logits, "multi_label_classification" takes each one's
 * sigmoid, anything else (single-label) softmaxes them, or takes the sigmoid of a lone label.
 */
export type ClassifyActivation = "softmax" | "sigmoid" | "identity";

export interface ClassifierHead {
  /** score.weight, [numLabels, hiddenSize] row-major, as float32. */
  weight: Float32Array;
  numLabels: number;
  hiddenSize: number;
  /** config.json's id2label by index (transformers' default names LABEL_0, LABEL_1, ...). */
  labels: string[];
  activation: ClassifyActivation;
}

/** The activation vLLM's classify pooler uses for this problem_type and label count. */
export function classifyActivation(problemType: string | null, numLabels: number): ClassifyActivation {
  if (problemType === "regression") return "identity";
  if (problemType === "multi_label_classification") return "sigmoid";
  return numLabels < 2 ? "sigmoid" : "softmax";
}

/** The head's logits for a pooled state (float64 sums over the float32 weights). */
export function classifierLogits(head: ClassifierHead, pooled: Float64Array): number[] {
  return Array.from({ length: head.numLabels }, (_, label) => {
    let sum = 0;
    const row = label * head.hiddenSize;
    for (let k = 0; k < head.hiddenSize; k++) sum += head.weight[row + k] * pooled[k];
    return sum;
  });
}

/** The class probabilities (vLLM's ClassificationOutput.probs): the logits under the activation, or raw when useActivation is false. */
export function classify(head: ClassifierHead, pooled: Float64Array, useActivation: boolean): number[] {
  const logits = classifierLogits(head, pooled);
  const activation = useActivation ? head.activation : "identity";
  if (activation === "identity") return logits;
  if (activation === "sigmoid") return logits.map((x) => 1 / (1 + Math.exp(-x)));
  const max = Math.max(...logits);
  const exps = logits.map((x) => Math.exp(x - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/** The index of the most probable class (vLLM's argmax over probs: the first of equals). */
export function predictedLabel(probs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
  return best;
}
