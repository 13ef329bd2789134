// Cohere Command-R (CohereForCausalLM) and Command R7B (Cohere2ForCausalLM): one LayerNorm (weight,
// no bias) before attention and MLP side by side, tied embeddings, logits multiplied by
// logit_scale. Both rotate adjacent pairs (GPT-J), as llama.cpp's command-r and cohere2 graphs do,
// so the converter (CommandR2Model, Cohere2Model) keeps q/k as they are. Cohere2 slides its window
// on three layers of every four and gives the fourth no RoPE at all.

import type { WeightDType } from "../dtype.ts";
import { f32, u32 } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { norm, type TensorPlan } from "../tensor-plan.ts";
import { attentionTensors, commonConfig, embeddingTensors, mlpTensors, outputTensors, required, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

/** Tiny Cohere2 models have four layers, so that llama.cpp's period of 4 (the GGUF has no key for it) leaves one global. */
const tinyCohere2Layers = 4;
const period = 4;
/** Not Command-R's 0.0625, which would flatten a tiny model's logits to near-uniform; above 1 so that the scale shows. */
const tinyLogitScale = 1.5;

function cohereTensors(config: HfConfig): TensorPlan[] {
  const plans = embeddingTensors(config);
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    plans.push(
      norm(`model.layers.${layer}.input_layernorm.weight`, `blk.${layer}.attn_norm.weight`, config.hidden_size, "unit"),
      ...attentionTensors(config, layer, false),
      ...mlpTensors(config, layer),
    );
  }
  return [...plans, ...outputTensors(config, "unit")];
}

export const cohere: ArchSpec = {
  ggufArch: "command-r",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["CohereForCausalLM"],
    model_type: "cohere",
    ...commonConfig(shape, dtype),
    layer_norm_eps: 1e-5,
    logit_scale: shape.name === "tiny" ? tinyLogitScale : 0.0625,
    use_qk_norm: false,
    rope_theta: shape.ropeTheta ?? 10000,
    rope_scaling: null,
    hidden_act: "silu",
    attention_bias: false,
    tie_word_embeddings: true,
  }),
  tensors: cohereTensors,
  ggufHyperparameters: (config) => [
    ...textModelHyperparameters("command-r", config),
    ["command-r.logit_scale", f32(required(config.logit_scale, "logit_scale"))],
  ],
};

export const cohere2: ArchSpec = {
  ggufArch: "cohere2",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => {
    const numLayers = shape.name === "tiny" ? tinyCohere2Layers : shape.numLayers;
    return {
      ...cohere.hfConfig(shape, dtype),
      architectures: ["Cohere2ForCausalLM"],
      model_type: "cohere2",
      num_hidden_layers: numLayers,
      sliding_window: shape.slidingWindow,
      layer_types: Array.from({ length: numLayers }, (_, layer) => ((layer + 1) % period === 0 ? "full_attention" : "sliding_attention")),
    };
  },
  tensors: cohereTensors,
  ggufHyperparameters: (config) => [
    ...textModelHyperparameters("cohere2", config),
    ["cohere2.logit_scale", f32(required(config.logit_scale, "logit_scale"))],
    ["cohere2.attention.sliding_window", u32(required(config.sliding_window, "sliding_window"))],
  ],
};
