// The sizes a random model can be written at. The architecture decides the family's own fields
// (norms, biases, RoPE base); a shape only fixes dimensions and a few knobs the tiny tests need.

import type { WeightDType } from "./dtype.ts";

export type ShapeName = "tiny" | "tiny-256" | "tinyllama-1.1b" | "llama3-8b";
export const shapeNames: readonly ShapeName[] = ["tiny", "tiny-256", "tinyllama-1.1b", "llama3-8b"];

export interface ModelShape {
  name: ShapeName;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  /** hidden / heads: the head size of every family but gemma and qwen3 (qwen2 and phi3 require it). */
  headDim: number;
  /**
   * head_dim of the families whose config sets it freely (gemma, qwen3). Tiny makes it differ from
   * hidden / heads, as gemma-7b and Qwen3-0.6B do, so code that derives it from hidden_size is caught.
   */
  freeHeadDim: number;
  /** Overrides the family's RoPE base (Llama 3 uses 500000). */
  ropeTheta?: number;
  /** Window of the families that slide (mistral, gemma2). */
  slidingWindow: number;
  /** Gemma-2 soft caps: the real 50/30 barely touch a tiny model's logits, so tiny uses caps that bend them. */
  attnLogitSoftcapping: number;
  finalLogitSoftcapping: number;
  /** Sparse MoE families (mixtral, qwen2_moe, qwen3_moe): experts per layer, and how many each token runs. */
  numExperts: number;
  numExpertsPerTok: number;
  /** The Qwen MoE families' moe_intermediate_size, a multiple of 32 as the MoE kernels need (Mixtral's experts are intermediateSize wide). */
  moeIntermediateSize: number;
  /** Qwen2-MoE's shared expert, a dense MLP of any width. */
  sharedExpertIntermediateSize: number;
  defaultDType: WeightDType;
  /** The 8B shape is written as an HF folder only: a 32 GB f32 GGUF is no use on this machine. */
  writesGguf: boolean;
}

const shapes: Record<ShapeName, ModelShape> = {
  // Small enough to write and run in a test; window 16 makes a 64-token parity test cross it.
  tiny: {
    name: "tiny",
    hiddenSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 128,
    vocabSize: 512,
    maxPositions: 256,
    headDim: 16,
    freeHeadDim: 32,
    slidingWindow: 16,
    attnLogitSoftcapping: 3,
    finalLogitSoftcapping: 5,
    numExperts: 4,
    numExpertsPerTok: 2,
    moeIntermediateSize: 64,
    sharedExpertIntermediateSize: 96, // unlike the other widths, so a mixed-up width shows
    defaultDType: "f32",
    writesGguf: true,
  },
  // Tiny too, but with rows of 256: whole super-blocks of the K-quants and IQ4_XS, which a test can write and run.
  "tiny-256": {
    name: "tiny-256",
    hiddenSize: 256,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 512,
    vocabSize: 512,
    maxPositions: 256,
    headDim: 64,
    freeHeadDim: 64,
    slidingWindow: 16,
    attnLogitSoftcapping: 3,
    finalLogitSoftcapping: 5,
    numExperts: 4,
    numExpertsPerTok: 2,
    moeIntermediateSize: 256,
    sharedExpertIntermediateSize: 384,
    defaultDType: "f32",
    writesGguf: true,
  },
  // TinyLlama-1.1B's dimensions, the shape of the CPU benchmarks in docs/PERF.md.
  "tinyllama-1.1b": {
    name: "tinyllama-1.1b",
    hiddenSize: 2048,
    numLayers: 22,
    numHeads: 32,
    numKvHeads: 4,
    intermediateSize: 5632,
    vocabSize: 32000,
    maxPositions: 2048,
    headDim: 64,
    freeHeadDim: 64,
    slidingWindow: 4096,
    attnLogitSoftcapping: 50,
    finalLogitSoftcapping: 30,
    numExperts: 8,
    numExpertsPerTok: 2,
    moeIntermediateSize: 1408, // intermediateSize / 4
    sharedExpertIntermediateSize: 5632, // Qwen1.5-MoE-A2.7B's: intermediateSize
    defaultDType: "f32",
    writesGguf: true,
  },
  // Llama-3-8B's dimensions, for the GPU machine.
  "llama3-8b": {
    name: "llama3-8b",
    hiddenSize: 4096,
    numLayers: 32,
    numHeads: 32,
    numKvHeads: 8,
    intermediateSize: 14336,
    vocabSize: 128256,
    maxPositions: 8192,
    headDim: 128,
    freeHeadDim: 128,
    ropeTheta: 500000,
    slidingWindow: 4096,
    attnLogitSoftcapping: 50,
    finalLogitSoftcapping: 30,
    numExperts: 8,
    numExpertsPerTok: 2,
    moeIntermediateSize: 3584, // intermediateSize / 4
    sharedExpertIntermediateSize: 14336, // intermediateSize
    defaultDType: "bf16",
    writesGguf: false,
  },
};

export function modelShape(name: ShapeName): ModelShape {
  return shapes[name];
}

