// EXAONE 4.0 (Exaone4ForCausalLM): OLMo 2's post-norm layers with q/k RMSNorms over each head.
// The tiny model is the 1.2B's kind, without a sliding window: llama.cpp's exaone4 graph slides
// only a 64-layer model (the 32B), and rotates every layer of any other. llama.cpp rotates halves
// (NeoX), so the converter (Exaone4Model) keeps q/k as they are.

import type { WeightDType } from "../dtype.ts";
import type { ModelShape } from "../shapes.ts";
import { postNormTensors } from "./olmo2.ts";
import { commonConfig, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

export const exaone4: ArchSpec = {
  ggufArch: "exaone4",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["Exaone4ForCausalLM"],
    model_type: "exaone4",
    ...commonConfig(shape, dtype),
    head_dim: shape.headDim,
    rms_norm_eps: 1e-5,
    rope_theta: shape.ropeTheta ?? 1000000,
    rope_scaling: null,
    hidden_act: "silu",
    sliding_window: null,
    tie_word_embeddings: false,
  }),
  tensors: (config) => postNormTensors(config, "head"),
  ggufHyperparameters: (config) => textModelHyperparameters("exaone4", config),
};
