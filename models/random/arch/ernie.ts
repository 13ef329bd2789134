// ERNIE 4.5 (Ernie4_5ForCausalLM; the dense 0.3B): LLaMA's network with tied embeddings and RoPE on
// adjacent pairs (GPT-J style), as llama.cpp's ernie4_5 graph rotates them, so the converter
// (Ernie4_5Model) keeps q/k as they are. The released dense model has no biases (use_bias false).

import type { WeightDType } from "../dtype.ts";
import type { ModelShape } from "../shapes.ts";
import { commonConfig, llamaStyleTensors, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

export const ernie4_5: ArchSpec = {
  ggufArch: "ernie4_5",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Ernie4_5ForCausalLM"],
    model_type: "ernie4_5",
    ...commonConfig(shape, dtype),
    head_dim: shape.headDim,
    rms_norm_eps: 1e-5,
    rope_theta: shape.ropeTheta ?? 500000,
    rope_scaling: null,
    hidden_act: "silu",
    use_bias: false,
    tie_word_embeddings: true,
  }),
  tensors: (config) => llamaStyleTensors(config, { normStyle: "unit", permuteQK: false }),
  ggufHyperparameters: (config) => textModelHyperparameters("ernie4_5", config),
};
