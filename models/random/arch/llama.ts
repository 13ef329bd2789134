// Llama and Mistral: the same network (pre-norm, RoPE, GQA, SwiGLU); Mistral adds a sliding window.
// llama.cpp converts both to its "llama" architecture, whose graph rotates adjacent pairs, so q/k
// rows are interleaved per head (convert_hf_to_gguf.py LlamaModel.permute). llama.cpp's llama graph
// has no sliding window: a Mistral GGUF attends to the whole context (see mistral below).

import type { WeightDType } from "../dtype.ts";
import { u32, type GgufValue } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { commonConfig, headDimOf, llamaStyleTensors, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

const tensors = (config: HfConfig) => llamaStyleTensors(config, { normStyle: "unit", permuteQK: true });

/** LlamaModel.set_gguf_parameters adds the vocab size and the rotary dimension to the generic keys. */
export const llamaHyperparameters = (config: HfConfig): [string, GgufValue][] => [
  ...textModelHyperparameters("llama", config),
  ["llama.vocab_size", u32(config.vocab_size)],
  ["llama.rope.dimension_count", u32(headDimOf(config))],
];

export const llama: ArchSpec = {
  ggufArch: "llama",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    ...commonConfig(shape, dtype),
    head_dim: shape.headDim,
    rms_norm_eps: 1e-5,
    rope_theta: shape.ropeTheta ?? 10000,
    rope_scaling: null,
    hidden_act: "silu",
    tie_word_embeddings: false,
    attention_bias: false,
    mlp_bias: false,
    pretraining_tp: 1,
  }),
  tensors,
  ggufHyperparameters: llamaHyperparameters,
};

/**
 * Mistral-7B-v0.1's config (sliding_window set). The GGUF cannot carry the window, so llama.cpp
 * agrees with the HF model only while a sequence fits in the window (the first sliding_window tokens).
 */
export const mistral: ArchSpec = {
  ggufArch: "llama",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["MistralForCausalLM"],
    model_type: "mistral",
    ...commonConfig(shape, dtype),
    head_dim: shape.headDim,
    rms_norm_eps: 1e-5,
    rope_theta: shape.ropeTheta ?? 10000,
    hidden_act: "silu",
    sliding_window: shape.slidingWindow,
    tie_word_embeddings: false,
  }),
  tensors,
  ggufHyperparameters: llamaHyperparameters,
};
