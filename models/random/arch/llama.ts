// Llama and Mistral: the same network (pre-norm, RoPE, GQA, SwiGLU); Mistral adds a sliding window.
// llama.cpp converts both to its "llama" architecture, whose graph rotates adjacent pairs, so q/k
// rows are interleaved per head (convert_hf_to_gguf.py LlamaModel.permute). llama.cpp's llama graph
// has no sliding window: a Mistral GGUF attends to the whole context (see mistral below).

import type { WeightDType } from "../dtype.ts";
import { f32, u32, type GgufValue } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { commonConfig, headDimOf, llamaStyleTensors, required, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

const tensors = (config: HfConfig) => llamaStyleTensors(config, { normStyle: "unit", permuteQK: true });

/** LlamaModel.set_gguf_parameters adds the vocab size and the rotary dimension to the generic keys. */
const llamaModelHyperparameters = (arch: string, config: HfConfig): [string, GgufValue][] => [
  ...textModelHyperparameters(arch, config),
  [`${arch}.vocab_size`, u32(config.vocab_size)],
  [`${arch}.rope.dimension_count`, u32(headDimOf(config))],
];

export const llamaHyperparameters = (config: HfConfig): [string, GgufValue][] => llamaModelHyperparameters("llama", config);

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

/**
 * Granite 3.x: Llama with four multipliers, converted by llama.cpp's GraniteModel (a LlamaModel:
 * q/k permuted, head_dim dropped) with the multipliers renamed *_scale. Tiny models use
 * multipliers far from 1 (Granite 3.0 2B: embedding 12, residual 0.22, attention 1/head_dim,
 * logits 8) that still leave the distributions spread out, so a missing one shows.
 */
export const granite: ArchSpec = {
  ggufArch: "granite",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["GraniteForCausalLM"],
    model_type: "granite",
    ...commonConfig(shape, dtype),
    rms_norm_eps: 1e-5,
    rope_theta: shape.ropeTheta ?? 10000,
    rope_scaling: null,
    hidden_act: "silu",
    tie_word_embeddings: true,
    attention_bias: false,
    mlp_bias: false,
    embedding_multiplier: 3,
    residual_multiplier: 0.5,
    attention_multiplier: 1 / shape.headDim,
    logits_scaling: 2,
  }),
  tensors,
  ggufHyperparameters: (config) => [
    ...llamaModelHyperparameters("granite", config),
    ["granite.attention.scale", f32(required(config.attention_multiplier, "attention_multiplier"))],
    ["granite.embedding_scale", f32(required(config.embedding_multiplier, "embedding_multiplier"))],
    ["granite.residual_scale", f32(required(config.residual_multiplier, "residual_multiplier"))],
    ["granite.logit_scale", f32(required(config.logits_scaling, "logits_scaling"))],
  ],
};

/**
 * SmolLM3: Llama whose every fourth layer skips RoPE (no_rope_layers), converted by llama.cpp's
 * SmolLM3Model (a LlamaModel: q/k permuted), whose graph hard-codes that step of 4. Tiny models have
 * four layers, so that one is a NoPE layer.
 */
export const smollm3: ArchSpec = {
  ggufArch: "smollm3",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => {
    const numLayers = shape.name === "tiny" ? 4 : shape.numLayers;
    return {
      architectures: ["SmolLM3ForCausalLM"],
      model_type: "smollm3",
      ...commonConfig(shape, dtype),
      num_hidden_layers: numLayers,
      rms_norm_eps: 1e-6,
      rope_theta: shape.ropeTheta ?? 2000000,
      rope_scaling: null,
      hidden_act: "silu",
      tie_word_embeddings: true,
      attention_bias: false,
      mlp_bias: false,
      use_sliding_window: false,
      sliding_window: null,
      no_rope_layer_interval: 4,
      no_rope_layers: Array.from({ length: numLayers }, (_, layer) => ((layer + 1) % 4 === 0 ? 0 : 1)),
    };
  },
  tensors,
  ggufHyperparameters: (config) => llamaModelHyperparameters("smollm3", config),
};
