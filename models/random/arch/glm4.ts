// GLM-4 (Glm4ForCausalLM): q/k/v with biases, GPT-J-style RoPE on half of each head, sandwich norms
// around both sublayers, gate and up stored fused. llama.cpp's glm4 graph rotates adjacent pairs as
// transformers does, so the converter (Glm4Model) keeps q/k as they are, and writes the rotary
// dimension as head_dim * partial_rotary_factor.

import type { WeightDType } from "../dtype.ts";
import { u32 } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { bias, linear, norm, type TensorPlan } from "../tensor-plan.ts";
import { attentionTensors, commonConfig, embeddingTensors, headDimOf, outputTensors, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

const partialRotaryFactor = 0.5;

function glm4Tensors(config: HfConfig): TensorPlan[] {
  const plans = embeddingTensors(config);
  const headDim = headDimOf(config);
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const hf = `model.layers.${layer}`;
    const gguf = `blk.${layer}`;
    const unit = (name: string, ggufName: string) => norm(`${hf}.${name}.weight`, `${gguf}.${ggufName}.weight`, config.hidden_size, "unit");
    plans.push(
      unit("input_layernorm", "attn_norm"),
      ...attentionTensors(config, layer, false),
      bias(`${hf}.self_attn.q_proj.bias`, `${gguf}.attn_q.bias`, config.num_attention_heads * headDim),
      bias(`${hf}.self_attn.k_proj.bias`, `${gguf}.attn_k.bias`, config.num_key_value_heads * headDim),
      bias(`${hf}.self_attn.v_proj.bias`, `${gguf}.attn_v.bias`, config.num_key_value_heads * headDim),
      unit("post_self_attn_layernorm", "post_attention_norm"),
      unit("post_attention_layernorm", "ffn_norm"),
      linear(`${hf}.mlp.gate_up_proj.weight`, `${gguf}.ffn_up.weight`, 2 * config.intermediate_size, config.hidden_size),
      linear(`${hf}.mlp.down_proj.weight`, `${gguf}.ffn_down.weight`, config.hidden_size, config.intermediate_size),
      unit("post_mlp_layernorm", "post_ffw_norm"),
    );
  }
  return [...plans, ...outputTensors(config, "unit")];
}

export const glm4: ArchSpec = {
  ggufArch: "glm4",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Glm4ForCausalLM"],
    model_type: "glm4",
    ...commonConfig(shape, dtype),
    head_dim: shape.headDim,
    partial_rotary_factor: partialRotaryFactor,
    attention_bias: true,
    rms_norm_eps: 1e-5,
    rope_theta: shape.ropeTheta ?? 10000,
    rope_scaling: null,
    hidden_act: "silu",
    tie_word_embeddings: false,
  }),
  tensors: glm4Tensors,
  ggufHyperparameters: (config) => [
    ...textModelHyperparameters("glm4", config),
    ["glm4.rope.dimension_count", u32(headDimOf(config) * partialRotaryFactor)],
  ],
};
