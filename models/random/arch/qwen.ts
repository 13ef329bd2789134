// Qwen2 and Qwen3: Llama-like with NeoX RoPE (no q/k permutation) and a 10^6 RoPE base.
// Qwen2 has biases on q, k and v (not o); Qwen3 drops them, sets head_dim freely and RMS-normalizes
// each head of q and k before RoPE (q_norm, k_norm). Both tie the LM head to the embedding at small
// sizes (Qwen2.5-0.5B, Qwen3-0.6B), and llama.cpp converts them with the generic keys only.

import type { WeightDType } from "../dtype.ts";
import type { ModelShape } from "../shapes.ts";
import { bias, norm } from "../tensor-plan.ts";
import { commonConfig, headDimOf, llamaStyleTensors, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

export const qwen2: ArchSpec = {
  ggufArch: "qwen2",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    ...commonConfig(shape, dtype),
    rms_norm_eps: 1e-6,
    rope_theta: shape.ropeTheta ?? 1000000,
    hidden_act: "silu",
    tie_word_embeddings: true,
    // Qwen2 configs name a window but switch it off; llama.cpp ignores it too.
    sliding_window: shape.maxPositions,
    use_sliding_window: false,
    max_window_layers: shape.numLayers,
  }),
  tensors: (config) =>
    llamaStyleTensors(config, { normStyle: "unit", permuteQK: false }, (layer) => {
      const size = { q: config.num_attention_heads * headDimOf(config), k: config.num_key_value_heads * headDimOf(config) };
      return [
        bias(`model.layers.${layer}.self_attn.q_proj.bias`, `blk.${layer}.attn_q.bias`, size.q),
        bias(`model.layers.${layer}.self_attn.k_proj.bias`, `blk.${layer}.attn_k.bias`, size.k),
        bias(`model.layers.${layer}.self_attn.v_proj.bias`, `blk.${layer}.attn_v.bias`, size.k),
      ];
    }),
  ggufHyperparameters: (config) => textModelHyperparameters("qwen2", config),
};

export const qwen3: ArchSpec = {
  ggufArch: "qwen3",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Qwen3ForCausalLM"],
    model_type: "qwen3",
    ...commonConfig(shape, dtype),
    head_dim: shape.freeHeadDim,
    attention_bias: false,
    rms_norm_eps: 1e-6,
    rope_theta: shape.ropeTheta ?? 1000000,
    rope_scaling: null,
    hidden_act: "silu",
    tie_word_embeddings: true,
    sliding_window: null,
    use_sliding_window: false,
    max_window_layers: shape.numLayers,
  }),
  tensors: (config) =>
    llamaStyleTensors(config, { normStyle: "unit", permuteQK: false }, (layer) => [
      norm(`model.layers.${layer}.self_attn.q_norm.weight`, `blk.${layer}.attn_q_norm.weight`, headDimOf(config), "unit"),
      norm(`model.layers.${layer}.self_attn.k_norm.weight`, `blk.${layer}.attn_k_norm.weight`, headDimOf(config), "unit"),
    ]),
  ggufHyperparameters: (config) => textModelHyperparameters("qwen3", config),
};
