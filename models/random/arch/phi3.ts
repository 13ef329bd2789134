// Phi-3: Llama-like with NeoX RoPE, but q, k and v are one fused qkv_proj (rows q, then k, then v)
// and gate and up are one fused gate_up_proj (rows gate, then up). llama.cpp keeps both fused
// (attn_qkv, and ffn_up of width 2 * intermediate whose first half is the gate) and its Phi-3 graph
// requires head_dim = hidden / heads. Tiny models are Phi-3.5 / Phi-4-mini-like: LongRoPE grown from
// an original context of 256 to 1024 (llama.cpp pads its context to a multiple of 256, so a smaller
// original one could not be tested with its short factors) and Phi-4-mini's partial rotary factor
// 0.75, with factors far enough from 1 that the wrong set, or none, shows.

import type { WeightDType } from "../dtype.ts";
import { f32, u32 } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { linear, norm, type TensorPlan } from "../tensor-plan.ts";
import type { GgufValue } from "../gguf-values.ts";
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

const tinyOriginalContext = 256;
const tinyContext = 1024;
const tinyPartialRotaryFactor = 0.75;

/** Phi3MiniModel's rotary dims: int(partial_rotary_factor * hidden) // heads. */
const rotaryDimsOf = (config: HfConfig) => Math.floor((config.partial_rotary_factor ?? 1) * config.hidden_size) / config.num_attention_heads;

function tinyLongRope(shape: ModelShape): HfConfig["rope_scaling"] {
  const pairs = (tinyPartialRotaryFactor * shape.hiddenSize) / shape.numHeads / 2;
  return {
    rope_type: "longrope",
    short_factor: Array.from({ length: pairs }, (_, i) => 1 + 0.05 * i),
    long_factor: Array.from({ length: pairs }, (_, i) => 1 + i),
  };
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
    ...(shape.name === "tiny"
      ? { rope_scaling: tinyLongRope(shape), partial_rotary_factor: tinyPartialRotaryFactor, max_position_embeddings: tinyContext, original_max_position_embeddings: tinyOriginalContext }
      : { rope_scaling: null, original_max_position_embeddings: shape.maxPositions }),
    hidden_act: "silu",
    // A window as long as the context (as Phi-3.5 does) never binds: llama.cpp disables Phi-3's
    // sliding window, so a shorter one would make the two runtimes disagree.
    sliding_window: shape.maxPositions,
    tie_word_embeddings: false,
  }),
  tensors,
  // Phi3MiniModel.set_gguf_parameters writes its own list: the generic keys (no head_dim here), the
  // original context length, the rotary dimension and the window (0 when absent); with LongRoPE its
  // generate_extra_tensors adds the attention factor and the two factor tensors.
  ggufHyperparameters: (config) => {
    const original = required(config.original_max_position_embeddings, "original_max_position_embeddings");
    const keys: [string, GgufValue][] = [
      ...textModelHyperparameters("phi3", config),
      ["phi3.rope.scaling.original_context_length", u32(original)],
      ["phi3.rope.dimension_count", u32(rotaryDimsOf(config))],
      ["phi3.attention.sliding_window", u32(config.sliding_window ?? 0)],
    ];
    const growth = config.max_position_embeddings / original;
    if (config.rope_scaling?.rope_type === "longrope") keys.push(["phi3.rope.scaling.attn_factor", f32(growth > 1 ? Math.sqrt(1 + Math.log(growth) / Math.log(original)) : 1)]);
    return keys;
  },
  ggufExtraTensors: (config) =>
    config.rope_scaling?.rope_type === "longrope"
      ? [
          { ggufName: "rope_factors_long.weight", values: Float32Array.from(config.rope_scaling.long_factor) },
          { ggufName: "rope_factors_short.weight", values: Float32Array.from(config.rope_scaling.short_factor) },
        ]
      : [],
};
