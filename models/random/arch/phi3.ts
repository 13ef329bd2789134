// Phi-3: Llama-like with NeoX RoPE, but q, k and v are one fused qkv_proj (rows q, then k, then v)
// and gate and up are one fused gate_up_proj (rows gate, then up). llama.cpp keeps both fused
// (attn_qkv, and ffn_up of width 2 * intermediate whose first half is the gate) and its Phi-3 graph
// requires head_dim = hidden / heads.

import type { WeightDType } from "../dtype.ts";
import { u32 } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { linear, norm, type TensorPlan } from "../tensor-plan.ts";
import { commonConfig, embeddingTensors, headDimOf, outputTensors, required, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

function tensors(config: HfConfig): TensorPlan[] {
  const headDim = headDimOf(config);
  const qkvRows = (config.num_attention_heads + 2 * config.num_key_value_heads) * headDim;
  const plans = embeddingTensors(config);
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const hf = `model.layers.${layer}`;
    const gguf = `blk.${layer}`;
    plans.push(
      norm(`${hf}.input_layernorm.weight`, `${gguf}.attn_norm.weight`, config.hidden_size, "unit"),
      linear(`${hf}.self_attn.qkv_proj.weight`, `${gguf}.attn_qkv.weight`, qkvRows, config.hidden_size),
      linear(`${hf}.self_attn.o_proj.weight`, `${gguf}.attn_output.weight`, config.hidden_size, config.num_attention_heads * headDim),
      norm(`${hf}.post_attention_layernorm.weight`, `${gguf}.ffn_norm.weight`, config.hidden_size, "unit"),
      linear(`${hf}.mlp.gate_up_proj.weight`, `${gguf}.ffn_up.weight`, 2 * config.intermediate_size, config.hidden_size),
      linear(`${hf}.mlp.down_proj.weight`, `${gguf}.ffn_down.weight`, config.hidden_size, config.intermediate_size),
    );
  }
  return [...plans, ...outputTensors(config, "unit")];
}

export const phi3: ArchSpec = {
  ggufArch: "phi3",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Phi3ForCausalLM"],
    model_type: "phi3",
    ...commonConfig(shape, dtype),
    attention_bias: false,
    embd_pdrop: 0,
    resid_pdrop: 0,
    rms_norm_eps: 1e-5,
    rope_theta: shape.ropeTheta ?? 10000,
    rope_scaling: null,
    original_max_position_embeddings: shape.maxPositions,
    hidden_act: "silu",
    // A window as long as the context (as Phi-3.5 does) never binds: llama.cpp disables Phi-3's
    // sliding window, so a shorter one would make the two runtimes disagree.
    sliding_window: shape.maxPositions,
    tie_word_embeddings: false,
  }),
  tensors,
  // Phi3MiniModel.set_gguf_parameters writes its own list: the generic keys (no head_dim here), the
  // original context length, the rotary dimension and the window (0 when absent).
  ggufHyperparameters: (config) => [
    ...textModelHyperparameters("phi3", config),
    ["phi3.rope.scaling.original_context_length", u32(required(config.original_max_position_embeddings, "original_max_position_embeddings"))],
    ["phi3.rope.dimension_count", u32(headDimOf(config))],
    ["phi3.attention.sliding_window", u32(config.sliding_window ?? 0)],
  ],
};
