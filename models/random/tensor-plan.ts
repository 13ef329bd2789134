// One checkpoint tensor of a random model: its Hugging Face name and shape, how its values are
// drawn, and where and how it lands in the GGUF. Values are regenerated on demand from
// (seed, HF name), so the two writers see identical weights without sharing memory. A sparse MoE
// layer's experts are one matrix each in the HF checkpoint and one 3-D tensor per projection in the
// GGUF (ExpertStack), assembled from the same per-expert values. GPT-OSS's experts go the other way:
// one HF tensor (gate and up interleaved, multiplied from the left) becomes two GGUF tensors
// (TensorPlan.ggufDerived), each plan reading the one HF tensor's values.

import { roundToDType, type WeightDType } from "./dtype.ts";
import { NormalStream } from "./normal-stream.ts";

export type TensorInit =
  /** Weights and biases: N(0, std). */
  | { kind: "normal"; std: number }
  /** An RMSNorm weight used as x * w: 1 + N(0, 0.1), so a norm that is skipped or misread shows. */
  | { kind: "unitNorm" }
  /** A Gemma RMSNorm weight used as x * (1 + w): N(0, 0.1); llama.cpp's GGUF stores 1 + w. */
  | { kind: "offsetNorm" };

/** A tensor of the HF checkpoint: how it is named, shaped and drawn. */
export interface HfTensorPlan {
  hfName: string;
  /** Hugging Face shape, outermost first ([out, in] for a linear). */
  shape: number[];
  init: TensorInit;
}

/** A tensor in both files. */
export interface TensorPlan extends HfTensorPlan {
  ggufName: string;
  /**
   * q_proj/k_proj of llama and mistral: HF rotates the two halves of each head (NeoX style), llama.cpp's
   * llama graph rotates adjacent pairs, so the converter interleaves each head's rows; this is the
   * number of heads in the tensor.
   */
  ggufPermuteHeads?: number;
  /**
   * A GGUF tensor made from the whole HF tensor's values (GPT-OSS's converter transposes its experts
   * and splits gate from up): its shape in HF order and how it is computed.
   */
  ggufDerived?: { shape: number[]; from: (values: Float32Array) => Float32Array };
  /** Another plan already writes this HF tensor (the second GGUF tensor derived from it). */
  hfWrittenElsewhere?: boolean;
}

/**
 * The experts' matrices of one projection ([out, in] each, in expert order), which llama.cpp's
 * converter stacks into one GGUF tensor of HF shape [experts, out, in]: expert e's rows at index e.
 */
export interface ExpertStack {
  ggufName: string;
  experts: HfTensorPlan[];
}

export type CheckpointPlan = TensorPlan | ExpertStack;

export const isExpertStack = (plan: CheckpointPlan): plan is ExpertStack => "experts" in plan;

/** Every tensor of the HF checkpoint, experts one by one. */
export const hfTensorPlans = (plans: readonly CheckpointPlan[]): HfTensorPlan[] => plans.flatMap((plan) => (isExpertStack(plan) ? plan.experts : plan.hfWrittenElsewhere ? [] : [plan]));

/** The shape of a plan's GGUF tensor in HF order (outermost first). */
export const ggufHfShape = (plan: CheckpointPlan): number[] => (isExpertStack(plan) ? [plan.experts.length, ...plan.experts[0].shape] : plan.ggufDerived?.shape ?? plan.shape);

const normNoiseStd = 0.1;

/** Linear layers drawn with std 1/sqrt(fan_in) keep activations at unit scale at any width. */
const linearInit = (inFeatures: number): TensorInit => ({ kind: "normal", std: 1 / Math.sqrt(inFeatures) });

export function linear(hfName: string, ggufName: string, outFeatures: number, inFeatures: number): TensorPlan {
  return { hfName, ggufName, shape: [outFeatures, inFeatures], init: linearInit(inFeatures) };
}

/** One linear [out, in] per expert, under the HF names given, stacked under ggufName in the GGUF. */
export function expertStack(ggufName: string, hfNames: readonly string[], outFeatures: number, inFeatures: number): ExpertStack {
  return { ggufName, experts: hfNames.map((hfName) => ({ hfName, shape: [outFeatures, inFeatures], init: linearInit(inFeatures) })) };
}

/** Biases large enough that dropping one moves the logits visibly. */
export function bias(hfName: string, ggufName: string, size: number): TensorPlan {
  return { hfName, ggufName, shape: [size], init: { kind: "normal", std: 0.5 } };
}

export function norm(hfName: string, ggufName: string, size: number, style: "unit" | "offset"): TensorPlan {
  return { hfName, ggufName, shape: [size], init: { kind: style === "unit" ? "unitNorm" : "offsetNorm" } };
}

/** Token embeddings and the LM head ([vocab, hidden]); the families choose the std. */
export function vocabMatrix(hfName: string, ggufName: string, vocabSize: number, hiddenSize: number, std: number): TensorPlan {
  return { hfName, ggufName, shape: [vocabSize, hiddenSize], init: { kind: "normal", std } };
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/** Whole rows, about 4M values per chunk: bounded memory for any tensor. */
const chunkElements = 1 << 22;

/** The checkpoint values (already rounded to dtype) in row-major order, chunk by chunk. */
export function* checkpointValues(plan: HfTensorPlan, seed: string, dtype: WeightDType): Generator<Float32Array> {
  const stream = new NormalStream(seed, plan.hfName);
  const rowLength = plan.shape[plan.shape.length - 1];
  const rowsPerChunk = Math.max(1, Math.floor(chunkElements / rowLength));
  const [mean, std] = plan.init.kind === "normal" ? [0, plan.init.std] : [plan.init.kind === "unitNorm" ? 1 : 0, normNoiseStd];
  const total = elementCount(plan.shape);
  for (let start = 0; start < total; start += rowsPerChunk * rowLength) {
    const chunk = new Float32Array(Math.min(rowsPerChunk * rowLength, total - start));
    stream.fill(chunk, mean, std);
    roundToDType(chunk, dtype);
    yield chunk;
  }
}

/** Interleaves the two rotary halves of each head: GGUF row 2i+j of a head is HF row j*(headDim/2)+i. */
export function permuteForAdjacentPairRope(values: Float32Array, numHeads: number, columns: number): Float32Array {
  const rowsPerHead = values.length / columns / numHeads;
  const half = rowsPerHead / 2;
  const out = new Float32Array(values.length);
  for (let head = 0; head < numHeads; head++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (head * rowsPerHead + j * half + i) * columns;
        const to = (head * rowsPerHead + 2 * i + j) * columns;
        out.set(values.subarray(from, from + columns), to);
      }
    }
  }
  return out;
}

/** The values as llama.cpp's converter stores them: rows permuted for RoPE, Gemma norms + 1 (in f32), experts stacked. */
export function* ggufValues(plan: CheckpointPlan, seed: string, dtype: WeightDType): Generator<Float32Array> {
  if (isExpertStack(plan)) {
    for (const expert of plan.experts) yield* checkpointValues(expert, seed, dtype);
    return;
  }
  const { ggufPermuteHeads: heads } = plan;
  const derive = plan.ggufDerived?.from ?? (heads === undefined ? undefined : (whole: Float32Array) => permuteForAdjacentPairRope(whole, heads, plan.shape[1]));
  if (derive) {
    const whole = new Float32Array(elementCount(plan.shape));
    let offset = 0;
    for (const chunk of checkpointValues(plan, seed, dtype)) {
      whole.set(chunk, offset);
      offset += chunk.length;
    }
    yield derive(whole);
    return;
  }
  for (const chunk of checkpointValues(plan, seed, dtype)) {
    if (plan.init.kind === "offsetNorm") for (let i = 0; i < chunk.length; i++) chunk[i] += 1;
    yield chunk;
  }
}
