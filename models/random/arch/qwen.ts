// Qwen2 and Qwen3: Llama-like with NeoX RoPE (no q/k permutation) and a 10^6 RoPE base.
// Qwen2 has biases on q, k and v (not o); Qwen3 drops them, sets head_dim freely and RMS-normalizes
// each head of q and k before RoPE (q_norm, k_norm). Both tie the LM head to the embedding at small
// sizes (Qwen2.5-0.5B, Qwen3-0.6B), and llama.cpp converts them with the generic keys only.
// Qwen3-MoE is Qwen3 with a sparse MoE in place of every MLP (router mlp.gate, experts of
// moe_intermediate_size); llama.cpp's "qwen3moe" adds expert_feed_forward_length to the generic keys.
// Qwen2-MoE is Qwen2 with the same sparse MoE plus a shared expert that every token runs
// (mlp.shared_expert, scaled by sigmoid(x . mlp.shared_expert_gate)); "qwen2moe" adds its width too.

import type { WeightDType } from "../dtype.ts";
import type { ModelShape } from "../shapes.ts";
import { u32, type GgufValue } from "../gguf-values.ts";
import { bias, linear, norm, type CheckpointPlan, type TensorPlan } from "../tensor-plan.ts";
import { commonConfig, gatedMlpTensors, headDimOf, llamaStyleTensors, moeTensors, required, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

/** The config fields Qwen2 and Qwen2-MoE share. */
const qwen2Config = (shape: ModelShape, dtype: WeightDType): Omit<HfConfig, "architectures" | "model_type" | "tie_word_embeddings"> => ({
  ...commonConfig(shape, dtype),
  rms_norm_eps: 1e-6,
  rope_theta: shape.ropeTheta ?? 1000000,
  hidden_act: "silu",
  // Qwen2 configs name a window but switch it off; llama.cpp ignores it too.
  sliding_window: shape.maxPositions,
  use_sliding_window: false,
  max_window_layers: shape.numLayers,
});

/** Qwen2's biases on q, k and v. */
const qkvBiases = (config: HfConfig, layer: number): TensorPlan[] => {
  const size = { q: config.num_attention_heads * headDimOf(config), k: config.num_key_value_heads * headDimOf(config) };
  return [
    bias(`model.layers.${layer}.self_attn.q_proj.bias`, `blk.${layer}.attn_q.bias`, size.q),
    bias(`model.layers.${layer}.self_attn.k_proj.bias`, `blk.${layer}.attn_k.bias`, size.k),
    bias(`model.layers.${layer}.self_attn.v_proj.bias`, `blk.${layer}.attn_v.bias`, size.k),
  ];
};

export const qwen2: ArchSpec = {
  ggufArch: "qwen2",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    ...qwen2Config(shape, dtype),
    tie_word_embeddings: true,
  }),
  tensors: (config) => llamaStyleTensors(config, { normStyle: "unit", permuteQK: false }, (layer) => qkvBiases(config, layer)),
  ggufHyperparameters: (config) => textModelHyperparameters("qwen2", config),
};

/** The MoE fields of Qwen2MoeConfig and Qwen3MoeConfig: every layer sparse (decoder_sparse_step 1, no mlp_only_layers). */
const qwenMoeConfig = (shape: ModelShape) => ({
  num_experts: shape.numExperts,
  num_experts_per_tok: shape.numExpertsPerTok,
  moe_intermediate_size: shape.moeIntermediateSize,
  decoder_sparse_step: 1,
  mlp_only_layers: [],
  output_router_logits: false,
  router_aux_loss_coef: 0.001,
});

/** The sparse MoE block of both Qwen MoE families: router mlp.gate, experts mlp.experts.{e}.{gate,up,down}_proj. */
function qwenSparseMoeTensors(config: HfConfig, layer: number): CheckpointPlan[] {
  const mlp = `model.layers.${layer}.mlp`;
  const names = { router: `${mlp}.gate.weight`, expert: (e: number, projection: string) => `${mlp}.experts.${e}.${projection}_proj.weight` };
  return moeTensors(config, layer, names, required(config.num_experts, "num_experts"), required(config.moe_intermediate_size, "moe_intermediate_size"));
}

/**
 * Qwen2MoeModel.set_gguf_parameters (Qwen3MoeModel's too): the experts' width, and the shared
 * expert's where the config has one, beside the generic keys (which count the experts).
 */
function qwenMoeHyperparameters(arch: string, config: HfConfig): [string, GgufValue][] {
  const keys: [string, GgufValue][] = [
    ...textModelHyperparameters(arch, config),
    [`${arch}.expert_feed_forward_length`, u32(required(config.moe_intermediate_size, "moe_intermediate_size"))],
  ];
  const shared = config.shared_expert_intermediate_size;
  if (shared !== undefined) keys.push([`${arch}.expert_shared_feed_forward_length`, u32(shared)]);
  return keys;
}

/**
 * Qwen2-MoE's MLP: the sparse MoE block, then the shared expert (ffn_*_shexp) and its gate. The
 * converter stacks the routed experts only (its "experts" match misses shared_expert) and writes the
 * gate unsqueezed, HF [1, hidden] as ne [hidden, 1], in F32 (one of its always-F32 tensors).
 */
function qwen2MoeMlpTensors(config: HfConfig, layer: number): CheckpointPlan[] {
  const mlp = `model.layers.${layer}.mlp`;
  const shared = required(config.shared_expert_intermediate_size, "shared_expert_intermediate_size");
  return [
    ...qwenSparseMoeTensors(config, layer),
    ...gatedMlpTensors(`${mlp}.shared_expert`, layer, "_shexp", config.hidden_size, shared),
    linear(`${mlp}.shared_expert_gate.weight`, `blk.${layer}.ffn_gate_inp_shexp.weight`, 1, config.hidden_size),
  ];
}

/**
 * Qwen1.5-MoE-A2.7B's config.json at the shape's size, with the keys today's Qwen2MoeConfig adds
 * (mlp_only_layers, qkv_bias): every layer sparse, the routing weights the router's probabilities
 * (norm_topk_prob false), LM head untied.
 */
export const qwen2Moe: ArchSpec = {
  ggufArch: "qwen2moe",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Qwen2MoeForCausalLM"],
    model_type: "qwen2_moe",
    ...qwen2Config(shape, dtype),
    tie_word_embeddings: false,
    qkv_bias: true,
    ...qwenMoeConfig(shape),
    shared_expert_intermediate_size: shape.sharedExpertIntermediateSize,
    norm_topk_prob: false,
  }),
  tensors: (config) =>
    llamaStyleTensors(config, { normStyle: "unit", permuteQK: false, mlp: (layer) => qwen2MoeMlpTensors(config, layer) }, (layer) => qkvBiases(config, layer)),
  ggufHyperparameters: (config) => qwenMoeHyperparameters("qwen2moe", config),
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

/** Qwen3-30B-A3B's config.json at the shape's size: every layer sparse, the chosen experts' weights renormalized, LM head untied. */
export const qwen3Moe: ArchSpec = {
  ggufArch: "qwen3moe",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Qwen3MoeForCausalLM"],
    model_type: "qwen3_moe",
    ...qwen3Config(shape, dtype),
    tie_word_embeddings: false,
    ...qwenMoeConfig(shape),
    norm_topk_prob: true,
  }),
  tensors: (config) =>
    llamaStyleTensors(config, { normStyle: "unit", permuteQK: false, mlp: (layer) => qwenSparseMoeTensors(config, layer) }, (layer) => qkNorms(config, layer)),
  ggufHyperparameters: (config) => qwenMoeHyperparameters("qwen3moe", config),
};
