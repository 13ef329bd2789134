// OLMo 2: Llama's projections with post-norms in place of pre-norms and q/k norms over the whole
// projection. llama.cpp's olmo2 graph rotates halves (NeoX), so the converter (Olmo2Model, a plain
// TextModel) keeps q/k as they are; it writes no head_dim.

import type { WeightDType } from "../dtype.ts";
import type { ModelShape } from "../shapes.ts";
import { norm, type TensorPlan } from "../tensor-plan.ts";
import { attentionTensors, commonConfig, embeddingTensors, headDimOf, mlpTensors, outputTensors, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

function olmo2Tensors(config: HfConfig): TensorPlan[] {
  const plans = embeddingTensors(config);
  const headDim = headDimOf(config);
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const hf = `model.layers.${layer}`;
    const gguf = `blk.${layer}`;
    plans.push(
      ...attentionTensors(config, layer, false),
      norm(`${hf}.self_attn.q_norm.weight`, `${gguf}.attn_q_norm.weight`, config.num_attention_heads * headDim, "unit"),
      norm(`${hf}.self_attn.k_norm.weight`, `${gguf}.attn_k_norm.weight`, config.num_key_value_heads * headDim, "unit"),
      norm(`${hf}.post_attention_layernorm.weight`, `${gguf}.post_attention_norm.weight`, config.hidden_size, "unit"),
      ...mlpTensors(config, layer),
      norm(`${hf}.post_feedforward_layernorm.weight`, `${gguf}.post_ffw_norm.weight`, config.hidden_size, "unit"),
    );
  }
  return [...plans, ...outputTensors(config, "unit")];
}

export const olmo2: ArchSpec = {
  ggufArch: "olmo2",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Olmo2ForCausalLM"],
    model_type: "olmo2",
    ...commonConfig(shape, dtype),
    rms_norm_eps: 1e-6,
    rope_theta: shape.ropeTheta ?? 500000,
    rope_scaling: null,
    hidden_act: "silu",
    attention_bias: false,
    tie_word_embeddings: false,
  }),
  tensors: olmo2Tensors,
  ggufHyperparameters: (config) => textModelHyperparameters("olmo2", config),
};
