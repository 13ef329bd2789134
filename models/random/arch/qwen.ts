// Qwen2 and Qwen3: Llama-like with NeoX RoPE (no q/k permutation) and a 10^6 RoPE base.
// Qwen2 has biases on q, k and v (not o); Qwen3 drops them, sets head_dim freely and RMS-normalizes
// each head of q and k before RoPE (q_norm, k_norm). Both tie the LM head to the embedding at small
// sizes (Qwen2.5-0.5B, Qwen3-0.6B), and llama.cpp converts them with the generic keys only.
// Qwen3-MoE is Qwen3 with a sparse MoE in place of every MLP (router mlp.gate, experts of
// moe_intermediate_size); llama.cpp's "qwen3moe" adds expert_feed_forward_length to the generic keys.

import type { WeightDType } from "../dtype.ts";
import type { ModelShape } from "../shapes.ts";
import { u32 } from "../gguf-values.ts";
import { bias, norm, type TensorPlan } from "../tensor-plan.ts";
import { commonConfig, headDimOf, llamaStyleTensors, moeTensors, required, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

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

/** Qwen3's RMSNorm of each q and k head. */
const qkNorms = (config: HfConfig, layer: number): TensorPlan[] => [
  norm(`model.layers.${layer}.self_attn.q_norm.weight`, `blk.${layer}.attn_q_norm.weight`, headDimOf(config), "unit"),
  norm(`model.layers.${layer}.self_attn.k_norm.weight`, `blk.${layer}.attn_k_norm.weight`, headDimOf(config), "unit"),
];

/** The config fields Qwen3 and Qwen3-MoE share. */
const qwen3Config = (shape: ModelShape, dtype: WeightDType): Omit<HfConfig, "architectures" | "model_type" | "tie_word_embeddings"> => ({
  ...commonConfig(shape, dtype),
  head_dim: shape.freeHeadDim,
  attention_bias: false,
  rms_norm_eps: 1e-6,
  rope_theta: shape.ropeTheta ?? 1000000,
  rope_scaling: null,
  hidden_act: "silu",
  sliding_window: null,
  use_sliding_window: false,
  max_window_layers: shape.numLayers,
});

export const qwen3: ArchSpec = {
  ggufArch: "qwen3",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Qwen3ForCausalLM"],
    model_type: "qwen3",
    ...qwen3Config(shape, dtype),
    tie_word_embeddings: true,
  }),
  tensors: (config) => llamaStyleTensors(config, { normStyle: "unit", permuteQK: false }, (layer) => qkNorms(config, layer)),
  ggufHyperparameters: (config) => textModelHyperparameters("qwen3", config),
};

/**
 * Qwen3-30B-A3B's config.json at the shape's size: every layer sparse (decoder_sparse_step 1, no
 * mlp_only_layers), the chosen experts' weights renormalized, LM head untied.
 */
export const qwen3Moe: ArchSpec = {
  ggufArch: "qwen3moe",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Qwen3MoeForCausalLM"],
    model_type: "qwen3_moe",
    ...qwen3Config(shape, dtype),
    tie_word_embeddings: false,
    num_experts: shape.numExperts,
    num_experts_per_tok: shape.numExpertsPerTok,
    moe_intermediate_size: shape.moeIntermediateSize,
    norm_topk_prob: true,
    decoder_sparse_step: 1,
    mlp_only_layers: [],
    output_router_logits: false,
    router_aux_loss_coef: 0.001,
  }),
  tensors: (config) =>
    llamaStyleTensors(
      config,
      {
        normStyle: "unit",
        permuteQK: false,
        mlp: (layer) => {
          const mlp = `model.layers.${layer}.mlp`;
          const names = { router: `${mlp}.gate.weight`, expert: (e: number, projection: string) => `${mlp}.experts.${e}.${projection}_proj.weight` };
          return moeTensors(config, layer, names, required(config.num_experts, "num_experts"), required(config.moe_intermediate_size, "moe_intermediate_size"));
        },
      },
      (layer) => qkNorms(config, layer),
    ),
  // Qwen2MoeModel.set_gguf_parameters: the experts' width beside the generic keys (which count the experts).
  ggufHyperparameters: (config) => [
    ...textModelHyperparameters("qwen3moe", config),
    ["qwen3moe.expert_feed_forward_length", u32(required(config.moe_intermediate_size, "moe_intermediate_size"))],
  ],
};
