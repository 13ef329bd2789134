// GPT-OSS (gpt-oss-20b's config.json at the shape's size, as transformers' dequantized checkpoints
// hold it): biased q/k/v/o, a sink logit per head (self_attn.sinks), layers alternating a sliding
// window (from layer 0) with global attention, YaRN RoPE (factor 32 over 4096, not truncated), and
// in every layer a biased router (mlp.router) over experts kept as 3-D tensors multiplied from the
// left: mlp.experts.gate_up_proj [experts, hidden, 2 x intermediate], gate and up interleaved along
// the last dim, and down_proj [experts, intermediate, hidden], each with its biases.
// llama.cpp's converter writes the "gpt-oss" architecture: the experts transposed to [experts, out,
// in] with gate and up apart (ffn_gate_exps from the even columns, ffn_up_exps from the odd ones),
// post_attention_layernorm as post_attention_norm, the sinks as attn_sinks, and the experts' width,
// window and YaRN parameters beside the generic keys. Its graph clamps the SwiGLU at 7, as
// swiglu_limit says.

import type { WeightDType } from "../dtype.ts";
import { f32, str, u32, type GgufValue } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { bias, linear, norm, type CheckpointPlan, type HfTensorPlan, type TensorPlan } from "../tensor-plan.ts";
import { attentionTensors, commonConfig, embeddingTensors, headDimOf, outputTensors, required, textModelHyperparameters, type ArchSpec, type HfConfig } from "./spec.ts";

/**
 * Expert e's [rows, columns * stride] slice of values [experts, rows, columns * stride], every
 * stride-th column from offset, transposed: [experts, columns, rows].
 */
export function transposedExperts(values: Float32Array, experts: number, rows: number, columns: number, stride: number, offset: number): Float32Array {
  const out = new Float32Array(experts * rows * columns);
  for (let e = 0; e < experts; e++)
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < columns; c++) out[(e * columns + c) * rows + r] = values[(e * rows + r) * columns * stride + c * stride + offset];
  return out;
}

const everyOther = (values: Float32Array, offset: number) => values.filter((_, i) => i % 2 === offset);

function attentionWithSinks(config: HfConfig, layer: number): TensorPlan[] {
  const hf = `model.layers.${layer}.self_attn`;
  const gguf = `blk.${layer}`;
  const [q, kv] = [config.num_attention_heads * headDimOf(config), config.num_key_value_heads * headDimOf(config)];
  return [
    ...attentionTensors(config, layer, false),
    bias(`${hf}.q_proj.bias`, `${gguf}.attn_q.bias`, q),
    bias(`${hf}.k_proj.bias`, `${gguf}.attn_k.bias`, kv),
    bias(`${hf}.v_proj.bias`, `${gguf}.attn_v.bias`, kv),
    bias(`${hf}.o_proj.bias`, `${gguf}.attn_output.bias`, config.hidden_size),
    // Logits of the order of a head's scores, so the sink takes a visible share of each softmax.
    { hfName: `${hf}.sinks`, ggufName: `${gguf}.attn_sinks.weight`, shape: [config.num_attention_heads], init: { kind: "normal", std: 1 } },
  ];
}

function expertTensors(config: HfConfig, layer: number): TensorPlan[] {
  const [E, H, I] = [required(config.num_local_experts, "num_local_experts"), config.hidden_size, config.intermediate_size];
  const hf = `model.layers.${layer}.mlp`;
  const gguf = (projection: string, kind: string) => `blk.${layer}.ffn_${projection}_exps.${kind}`;
  const gateUp: HfTensorPlan = { hfName: `${hf}.experts.gate_up_proj`, shape: [E, H, 2 * I], init: { kind: "normal", std: 1 / Math.sqrt(H) } };
  const gateUpBias: HfTensorPlan = { hfName: `${hf}.experts.gate_up_proj_bias`, shape: [E, 2 * I], init: { kind: "normal", std: 0.5 } };
  const halves = [["gate", 0], ["up", 1]] as const;
  return [
    linear(`${hf}.router.weight`, `blk.${layer}.ffn_gate_inp.weight`, E, H),
    bias(`${hf}.router.bias`, `blk.${layer}.ffn_gate_inp.bias`, E),
    ...halves.map(([projection, offset]): TensorPlan => ({
      ...gateUp, ggufName: gguf(projection, "weight"), hfWrittenElsewhere: offset === 1,
      ggufDerived: { shape: [E, I, H], from: (values) => transposedExperts(values, E, H, I, 2, offset) },
    })),
    ...halves.map(([projection, offset]): TensorPlan => ({
      ...gateUpBias, ggufName: gguf(projection, "bias"), hfWrittenElsewhere: offset === 1,
      ggufDerived: { shape: [E, I], from: (values) => everyOther(values, offset) },
    })),
    {
      hfName: `${hf}.experts.down_proj`, ggufName: gguf("down", "weight"), shape: [E, I, H], init: { kind: "normal", std: 1 / Math.sqrt(I) },
      ggufDerived: { shape: [E, H, I], from: (values) => transposedExperts(values, E, I, H, 1, 0) },
    },
    { hfName: `${hf}.experts.down_proj_bias`, ggufName: gguf("down", "bias"), shape: [E, H], init: { kind: "normal", std: 0.5 } },
  ];
}

export const gptOss: ArchSpec = {
  ggufArch: "gpt-oss",
  hfConfig: (shape: ModelShape, dtype: WeightDType): HfConfig => {
    const layerTypes = Array.from({ length: shape.numLayers }, (_, layer): "sliding_attention" | "full_attention" => (layer % 2 === 0 ? "sliding_attention" : "full_attention"));
    return {
      architectures: ["GptOssForCausalLM"],
      model_type: "gpt_oss",
      ...commonConfig(shape, dtype),
      // The experts' width: GPT-OSS has no dense MLP.
      intermediate_size: shape.moeIntermediateSize,
      head_dim: shape.freeHeadDim,
      attention_bias: true,
      rms_norm_eps: 1e-5,
      rope_theta: 150000,
      rope_scaling: { rope_type: "yarn", factor: 32, beta_fast: 32, beta_slow: 1, original_max_position_embeddings: 4096, truncate: false },
      hidden_act: "silu",
      // gpt-oss's 128, or the tiny shape's smaller window, which its 64-token tests cross.
      sliding_window: Math.min(shape.slidingWindow, 128),
      layer_types: layerTypes,
      num_local_experts: shape.numExperts,
      num_experts_per_tok: shape.numExpertsPerTok,
      experts_per_token: shape.numExpertsPerTok,
      swiglu_limit: 7,
      output_router_logits: false,
      router_aux_loss_coef: 0.9,
      tie_word_embeddings: false,
    };
  },
  tensors: (config): CheckpointPlan[] => {
    const tensors: CheckpointPlan[] = embeddingTensors(config);
    for (let layer = 0; layer < config.num_hidden_layers; layer++) {
      tensors.push(
        norm(`model.layers.${layer}.input_layernorm.weight`, `blk.${layer}.attn_norm.weight`, config.hidden_size, "unit"),
        ...attentionWithSinks(config, layer),
        norm(`model.layers.${layer}.post_attention_layernorm.weight`, `blk.${layer}.post_attention_norm.weight`, config.hidden_size, "unit"),
        ...expertTensors(config, layer),
      );
    }
    return [...tensors, ...outputTensors(config, "unit")];
  },
  ggufHyperparameters: (config): [string, GgufValue][] => {
    const yarn = config.rope_scaling;
    if (yarn?.rope_type !== "yarn") throw new Error("random gpt-oss config lacks its YaRN rope_scaling");
    return [
      ...textModelHyperparameters("gpt-oss", config),
      ["gpt-oss.expert_feed_forward_length", u32(config.intermediate_size)],
      ["gpt-oss.attention.sliding_window", u32(required(config.sliding_window, "sliding_window"))],
      ["gpt-oss.rope.scaling.type", str("yarn")],
      ["gpt-oss.rope.scaling.factor", f32(yarn.factor)],
      ["gpt-oss.rope.scaling.original_context_length", u32(yarn.original_max_position_embeddings)],
    ];
  },
};
