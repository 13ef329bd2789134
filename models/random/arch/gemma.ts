// Gemma and Gemma-2: NeoX RoPE with base 10000 (the converter writes no RoPE base, so llama.cpp
// assumes 10000), GELU (tanh) MLP, embeddings scaled by sqrt(hidden), LM head tied to the embedding,
// and RMSNorm weights stored as offsets (x * (1 + w)); the converter adds the 1 (norm.weight + 1).
// Gemma-2 adds post-attention and pre/post-feedforward norms, soft-capped attention and final logits,
// and alternates sliding-window (even layers) and global (odd layers) attention.

import type { WeightDType } from "../dtype.ts";
import { f32, u32, type GgufValue } from "../gguf-values.ts";
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

function gemma2Tensors(config: HfConfig): TensorPlan[] {
  const plans = embeddingTensors(config, embeddingStd(config));
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const hf = `model.layers.${layer}`;
    const gguf = `blk.${layer}`;
    plans.push(
      norm(`${hf}.input_layernorm.weight`, `${gguf}.attn_norm.weight`, config.hidden_size, "offset"),
      ...attentionTensors(config, layer, false),
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
  tensors: gemma2Tensors,
  ggufHyperparameters: (config) => [
    ...gemmaHyperparameters("gemma2", config),
    ["gemma2.attn_logit_softcapping", f32(required(config.attn_logit_softcapping, "attn_logit_softcapping"))],
    ["gemma2.final_logit_softcapping", f32(required(config.final_logit_softcapping, "final_logit_softcapping"))],
    ["gemma2.attention.sliding_window", u32(required(config.sliding_window, "sliding_window"))],
  ],
};
