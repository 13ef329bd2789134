// Gemma and Gemma-2: NeoX RoPE with base 10000 (the converter writes no RoPE base, so llama.cpp
// assumes 10000), GELU (tanh) MLP, embeddings scaled by sqrt(hidden), LM head tied to the embedding,
// and RMSNorm weights stored as offsets (x * (1 + w)); the converter adds the 1 (norm.weight + 1).
// Gemma-2 adds post-attention and pre/post-feedforward norms, soft-capped attention and final logits,
// and alternates sliding-window (even layers) and global (odd layers) attention. Gemma-3 keeps
// Gemma-2's layout, adds q/k norms, drops the soft caps and has its own RoPE base per layer kind.

import type { WeightDType } from "../dtype.ts";
import { f32, str, u32, type GgufValue } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { norm, type TensorPlan } from "../tensor-plan.ts";
import {
  attentionTensors,
  commonConfig,
  embeddingTensors,
  llamaStyleTensors,
  mlpTensors,
  outputTensors,
  required,
  textModelHyperparameters,
  type ArchSpec,
  type HfConfig,
} from "./spec.ts";

const gemmaRopeTheta = 10000;

/**
 * Gemma multiplies embeddings by sqrt(hidden); std 1/sqrt(hidden) starts its residual at unit scale.
 * With the default std the embedding would dominate the residual and the tied head would mostly
 * predict the input token again (near one-hot distributions).
 */
const embeddingStd = (config: HfConfig) => 1 / Math.sqrt(config.hidden_size);

/** GemmaModel.set_gguf_parameters: the generic keys (head_dim always set) but no RoPE base. */
function gemmaHyperparameters(arch: string, config: HfConfig): [string, GgufValue][] {
  return textModelHyperparameters(arch, config).filter(([key]) => key !== `${arch}.rope.freq_base`);
}

export const gemma: ArchSpec = {
  ggufArch: "gemma",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["GemmaForCausalLM"],
    model_type: "gemma",
    ...commonConfig(shape, dtype),
    head_dim: shape.freeHeadDim,
    attention_bias: false,
    rms_norm_eps: 1e-6,
    rope_theta: gemmaRopeTheta,
    rope_scaling: null,
    hidden_act: "gelu_pytorch_tanh",
    hidden_activation: "gelu_pytorch_tanh",
    tie_word_embeddings: true,
  }),
  tensors: (config) => llamaStyleTensors(config, { normStyle: "offset", permuteQK: false, embeddingStd: embeddingStd(config) }),
  ggufHyperparameters: (config) => gemmaHyperparameters("gemma", config),
};

/** Gemma-2's layers; Gemma-3 adds its per-head q/k norms (`qkNorms`). */
function gemma2Tensors(config: HfConfig, qkNorms: boolean): TensorPlan[] {
  const plans = embeddingTensors(config, embeddingStd(config));
  const headDim = required(config.head_dim, "head_dim");
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const hf = `model.layers.${layer}`;
    const gguf = `blk.${layer}`;
    plans.push(
      norm(`${hf}.input_layernorm.weight`, `${gguf}.attn_norm.weight`, config.hidden_size, "offset"),
      ...attentionTensors(config, layer, false),
      ...(qkNorms
        ? [norm(`${hf}.self_attn.q_norm.weight`, `${gguf}.attn_q_norm.weight`, headDim, "offset"), norm(`${hf}.self_attn.k_norm.weight`, `${gguf}.attn_k_norm.weight`, headDim, "offset")]
        : []),
      norm(`${hf}.post_attention_layernorm.weight`, `${gguf}.post_attention_norm.weight`, config.hidden_size, "offset"),
      norm(`${hf}.pre_feedforward_layernorm.weight`, `${gguf}.ffn_norm.weight`, config.hidden_size, "offset"),
      ...mlpTensors(config, layer),
      norm(`${hf}.post_feedforward_layernorm.weight`, `${gguf}.post_ffw_norm.weight`, config.hidden_size, "offset"),
    );
  }
  return [...plans, ...outputTensors(config, "offset")];
}

export const gemma2: ArchSpec = {
  ggufArch: "gemma2",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Gemma2ForCausalLM"],
    model_type: "gemma2",
    ...commonConfig(shape, dtype),
    head_dim: shape.headDim,
    attention_bias: false,
    attn_logit_softcapping: shape.attnLogitSoftcapping,
    final_logit_softcapping: shape.finalLogitSoftcapping,
    // llama.cpp scales queries by 1/sqrt(head_dim) (except for the 46-layer 27B), so the scalar
    // must equal head_dim, as in Gemma-2 2B and 9B.
    query_pre_attn_scalar: shape.headDim,
    rms_norm_eps: 1e-6,
    rope_theta: gemmaRopeTheta,
    hidden_act: "gelu_pytorch_tanh",
    hidden_activation: "gelu_pytorch_tanh",
    sliding_window: shape.slidingWindow,
    layer_types: Array.from({ length: shape.numLayers }, (_, layer) => (layer % 2 === 0 ? "sliding_attention" : "full_attention")),
    cache_implementation: "hybrid",
    tie_word_embeddings: true,
  }),
  tensors: (config) => gemma2Tensors(config, false),
  ggufHyperparameters: (config) => [
    ...gemmaHyperparameters("gemma2", config),
    ["gemma2.attn_logit_softcapping", f32(required(config.attn_logit_softcapping, "attn_logit_softcapping"))],
    ["gemma2.final_logit_softcapping", f32(required(config.final_logit_softcapping, "final_logit_softcapping"))],
    ["gemma2.attention.sliding_window", u32(required(config.sliding_window, "sliding_window"))],
  ],
};

/**
 * Gemma-3 (Gemma3ForCausalLM, model_type gemma3_text). Tiny models make every other layer global
 * (sliding_window_pattern 2; the real one is 6, which in 2 layers would leave none global) and scale
 * the global layers' RoPE linearly by 2, as the larger releases do by 8, so that a table used on
 * the wrong layers shows. The converter writes no pattern (llama.cpp assumes 6) and no local base
 * (10000); these files state the pattern under the key llama.cpp reads.
 */
export const gemma3: ArchSpec = {
  ggufArch: "gemma3",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => {
    const slidingWindowPattern = shape.name === "tiny" ? 2 : 6;
    return {
      architectures: ["Gemma3ForCausalLM"],
      model_type: "gemma3_text",
      ...commonConfig(shape, dtype),
      head_dim: shape.freeHeadDim,
      attention_bias: false,
      attn_logit_softcapping: null,
      final_logit_softcapping: null,
      // llama.cpp scales queries by 1/sqrt(head_dim) (except for the 62-layer 27B), so the scalar must equal head_dim.
      query_pre_attn_scalar: shape.freeHeadDim,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      rope_local_base_freq: 10000,
      rope_scaling: shape.name === "tiny" ? { rope_type: "linear", factor: 2 } : null,
      hidden_act: "gelu_pytorch_tanh",
      hidden_activation: "gelu_pytorch_tanh",
      sliding_window: shape.slidingWindow,
      sliding_window_pattern: slidingWindowPattern,
      layer_types: Array.from({ length: shape.numLayers }, (_, layer) => ((layer + 1) % slidingWindowPattern === 0 ? "full_attention" : "sliding_attention")),
      tie_word_embeddings: true,
    };
  },
  tensors: (config) => gemma2Tensors(config, true),
  ggufHyperparameters: (config) => {
    const keys: [string, GgufValue][] = [
      ...textModelHyperparameters("gemma3", config),
      ["gemma3.attention.sliding_window", u32(required(config.sliding_window, "sliding_window"))],
      ["gemma3.attention.sliding_window_pattern", u32(required(config.sliding_window_pattern, "sliding_window_pattern"))],
    ];
    if (config.rope_scaling?.rope_type === "linear") keys.push(["gemma3.rope.scaling.type", str("linear")], ["gemma3.rope.scaling.factor", f32(config.rope_scaling.factor)]);
    return keys;
  },
};
