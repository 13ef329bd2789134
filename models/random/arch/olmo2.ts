// OLMo 2: Llama's projections with post-norms in place of pre-norms and q/k norms over the whole
// projection. llama.cpp's olmo2 graph rotates halves (NeoX), so the converter (Olmo2Model, a plain
// TextModel) keeps q/k as they are; it writes no head_dim. OLMo 3 converts the same way, adding its
// window and a sliding flag per layer.

import type { WeightDType } from "../dtype.ts";
import { f32, str, u32, type GgufValue } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { norm, type TensorPlan } from "../tensor-plan.ts";
import { attentionTensors, commonConfig, embeddingTensors, headDimOf, mlpTensors, outputTensors, required, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

/** OLMo 2's post-norm layers; q/k norms over the whole projection (OLMo 2) or one head (EXAONE 4). */
export function postNormTensors(config: HfConfig, qkNormOver: "projection" | "head"): TensorPlan[] {
  const plans = embeddingTensors(config);
  const headDim = headDimOf(config);
  const [qNormSize, kNormSize] = qkNormOver === "head" ? [headDim, headDim] : [config.num_attention_heads * headDim, config.num_key_value_heads * headDim];
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const hf = `model.layers.${layer}`;
    const gguf = `blk.${layer}`;
    plans.push(
      ...attentionTensors(config, layer, false),
      norm(`${hf}.self_attn.q_norm.weight`, `${gguf}.attn_q_norm.weight`, qNormSize, "unit"),
      norm(`${hf}.self_attn.k_norm.weight`, `${gguf}.attn_k_norm.weight`, kNormSize, "unit"),
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
  tensors: (config) => postNormTensors(config, "projection"),
  ggufHyperparameters: (config) => textModelHyperparameters("olmo2", config),
};

/** Tiny OLMo 3 models have four layers, so that llama.cpp's period of 4 leaves one global; the global one's RoPE is scaled linearly by 2 (the sliding ones' never is). */
const tinyOlmo3Layers = 4;

export const olmo3: ArchSpec = {
  ggufArch: "olmo2",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => {
    const numLayers = shape.name === "tiny" ? tinyOlmo3Layers : shape.numLayers;
    return {
      ...olmo2.hfConfig(shape, dtype),
      architectures: ["Olmo3ForCausalLM"],
      model_type: "olmo3",
      num_hidden_layers: numLayers,
      sliding_window: shape.slidingWindow,
      layer_types: Array.from({ length: numLayers }, (_, layer) => ((layer + 1) % 4 === 0 ? "full_attention" : "sliding_attention")),
      rope_scaling: shape.name === "tiny" ? { rope_type: "linear", factor: 2 } : null,
    };
  },
  tensors: (config) => postNormTensors(config, "projection"),
  ggufHyperparameters: (config) => {
    const keys: [string, GgufValue][] = [
      ...textModelHyperparameters("olmo2", config),
      ["olmo2.attention.sliding_window", u32(required(config.sliding_window, "sliding_window"))],
      ["olmo2.attention.sliding_window_pattern", { type: "array", itemType: "bool", value: required(config.layer_types, "layer_types").map((t) => t === "sliding_attention") }],
    ];
    if (config.rope_scaling?.rope_type === "linear") keys.push(["olmo2.rope.scaling.type", str("linear")], ["olmo2.rope.scaling.factor", f32(config.rope_scaling.factor)]);
    return keys;
  },
};
