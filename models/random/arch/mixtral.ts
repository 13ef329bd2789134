// Mixtral: Mistral's attention with a sparse MoE in place of the MLP (a router over experts, each
// a gated MLP of intermediate_size, of which every token runs num_experts_per_tok). llama.cpp converts
// it to its "llama" architecture like Llama and Mistral (q/k rows interleaved for adjacent-pair
// RoPE, the experts' count under llama.expert_count and llama.expert_used_count), and its llama graph
// sizes the experts by feed_forward_length, which is intermediate_size.

import type { WeightDType } from "../dtype.ts";
import type { ModelShape } from "../shapes.ts";
import { llamaHyperparameters } from "./llama.ts";
import { commonConfig, llamaStyleTensors, moeTensors, required, type ArchSpec, type HfConfig } from "./spec.ts";

/** HF's Mixtral names: w1 is the gate, w3 the up and w2 the down projection. */
const expertWeight = { gate: "w1", up: "w3", down: "w2" } as const;

export const mixtral: ArchSpec = {
  ggufArch: "llama",
  // Mixtral-8x7B-v0.1's config.json, at the shape's size.
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => ({
    architectures: ["MixtralForCausalLM"],
    model_type: "mixtral",
    ...commonConfig(shape, dtype),
    num_local_experts: shape.numExperts,
    num_experts_per_tok: shape.numExpertsPerTok,
    output_router_logits: false,
    router_aux_loss_coef: 0.02,
    rms_norm_eps: 1e-5,
    rope_theta: shape.ropeTheta ?? 1000000,
    hidden_act: "silu",
    sliding_window: null,
    tie_word_embeddings: false,
  }),
  tensors: (config) =>
    llamaStyleTensors(config, {
      normStyle: "unit",
      permuteQK: true,
      mlp: (layer) => {
        const moe = `model.layers.${layer}.block_sparse_moe`;
        const names = { router: `${moe}.gate.weight`, expert: (e: number, projection: keyof typeof expertWeight) => `${moe}.experts.${e}.${expertWeight[projection]}.weight` };
        return moeTensors(config, layer, names, required(config.num_local_experts, "num_local_experts"), config.intermediate_size);
      },
    }),
  ggufHyperparameters: llamaHyperparameters,
};
