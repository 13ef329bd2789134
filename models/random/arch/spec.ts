// What each architecture file provides, and the parts the Llama-like families share.
//
// The flow mirrors llama.cpp's convert_hf_to_gguf.py: a family writes its config.json, and the
// tensor list and GGUF metadata are then derived from that config alone, as the converter does.

import type { WeightDType } from "../dtype.ts";
import type { GgufValue } from "../gguf-values.ts";
import { f32, u32 } from "../gguf-values.ts";
import type { ModelShape } from "../shapes.ts";
import { expertStack, linear, norm, vocabMatrix, type CheckpointPlan, type TensorPlan } from "../tensor-plan.ts";

export type ArchName = "llama" | "mistral" | "mixtral" | "qwen2" | "qwen2_moe" | "qwen3" | "qwen3_moe" | "phi3" | "gemma" | "gemma2" | "gemma3" | "granite" | "olmo2" | "olmo3" | "smollm3" | "glm4" | "cohere" | "cohere2" | "exaone4" | "ernie4_5" | "gpt_oss";

/** config.json fields, named as transformers writes them; optional ones belong to some families only. */
export interface HfConfig {
  architectures: string[];
  /** The family's name but for Gemma-3, whose text-only config is "gemma3_text". */
  model_type: Exclude<ArchName, "gemma3"> | "gemma3_text";
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim?: number;
  vocab_size: number;
  max_position_embeddings: number;
  /** The RMSNorm families' epsilon; Cohere's LayerNorm has layer_norm_eps instead. */
  rms_norm_eps?: number;
  layer_norm_eps?: number;
  /** Cohere: the logits are multiplied by it. */
  logit_scale?: number;
  use_qk_norm?: boolean;
  rope_theta: number;
  rope_scaling?:
    | { rope_type: "linear"; factor: number }
    | { rope_type: "longrope"; short_factor: number[]; long_factor: number[] }
    | { rope_type: "yarn"; factor: number; beta_fast: number; beta_slow: number; original_max_position_embeddings: number; truncate: boolean }
    | null;
  partial_rotary_factor?: number;
  /** Gemma-3: the sliding layers' RoPE base, and every how many layers one is global. */
  rope_local_base_freq?: number;
  /** SmolLM3's NoPE layers (1: the layer uses RoPE). */
  no_rope_layers?: number[];
  no_rope_layer_interval?: number;
  /** Granite's multipliers. */
  embedding_multiplier?: number;
  residual_multiplier?: number;
  attention_multiplier?: number;
  logits_scaling?: number;
  sliding_window_pattern?: number;
  hidden_act: "silu" | "gelu_pytorch_tanh";
  hidden_activation?: "gelu_pytorch_tanh";
  tie_word_embeddings: boolean;
  attention_bias?: boolean;
  /** ERNIE 4.5's switch of the q/k/v/o biases. */
  use_bias?: boolean;
  attention_dropout: number;
  mlp_bias?: boolean;
  pretraining_tp?: number;
  sliding_window?: number | null;
  use_sliding_window?: boolean;
  max_window_layers?: number;
  original_max_position_embeddings?: number;
  embd_pdrop?: number;
  resid_pdrop?: number;
  attn_logit_softcapping?: number | null;
  final_logit_softcapping?: number | null;
  query_pre_attn_scalar?: number;
  layer_types?: ("sliding_attention" | "full_attention")[];
  cache_implementation?: "hybrid";
  /** Mixtral's expert count; Qwen-MoE's is num_experts. */
  num_local_experts?: number;
  num_experts?: number;
  num_experts_per_tok?: number;
  /** GPT-OSS: OpenAI's name for num_experts_per_tok, written beside it, and the clamp of its experts' SwiGLU. */
  experts_per_token?: number;
  swiglu_limit?: number;
  moe_intermediate_size?: number;
  /** Qwen2-MoE's shared expert, and the switch of its q/k/v biases. */
  shared_expert_intermediate_size?: number;
  qkv_bias?: boolean;
  norm_topk_prob?: boolean;
  decoder_sparse_step?: number;
  mlp_only_layers?: number[];
  output_router_logits?: boolean;
  router_aux_loss_coef?: number;
  initializer_range: number;
  bos_token_id: number;
  eos_token_id: number;
  use_cache: boolean;
  torch_dtype: "float32" | "float16" | "bfloat16";
}

export interface ArchSpec {
  /** config.json for this family at the given size. */
  hfConfig(shape: ModelShape, dtype: WeightDType): HfConfig;
  /** Every checkpoint tensor, in the order both files list them (an expert stack's experts one by one in the HF file). */
  tensors(config: HfConfig): CheckpointPlan[];
  /** general.architecture, and the prefix of the family's GGUF keys. */
  ggufArch: string;
  /** The family's GGUF hyperparameter keys, as convert_hf_to_gguf.py writes them. */
  ggufHyperparameters(config: HfConfig): [key: string, value: GgufValue][];
  /** F32 tensors the converter adds that the HF checkpoint does not have (its generate_extra_tensors). */
  ggufExtraTensors?(config: HfConfig): { ggufName: string; values: Float32Array }[];
}

const torchDType = { f32: "float32", f16: "float16", bf16: "bfloat16" } as const;

/** Fields every family's config carries. Token ids are the shared stories260K tokenizer's. */
export function commonConfig(shape: ModelShape, dtype: WeightDType) {
  return {
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.intermediateSize,
    num_hidden_layers: shape.numLayers,
    num_attention_heads: shape.numHeads,
    num_key_value_heads: shape.numKvHeads,
    vocab_size: shape.vocabSize,
    max_position_embeddings: shape.maxPositions,
    attention_dropout: 0,
    initializer_range: 0.02,
    bos_token_id: 1,
    eos_token_id: 2,
    use_cache: true,
    torch_dtype: torchDType[dtype],
  };
}

/** A family-specific config field the family always sets; its absence is a bug in this writer. */
export function required<T>(value: T | null | undefined, key: keyof HfConfig): T {
  if (value === undefined || value === null) throw new Error(`random model config lacks ${key}`);
  return value;
}

export function headDimOf(config: HfConfig): number {
  return config.head_dim ?? config.hidden_size / config.num_attention_heads;
}

/** The converter's generic keys (TextModel.set_gguf_parameters), under the arch prefix. */
export function textModelHyperparameters(arch: string, config: HfConfig): [string, GgufValue][] {
  const keys: [string, GgufValue][] = [
    [`${arch}.block_count`, u32(config.num_hidden_layers)],
    [`${arch}.context_length`, u32(config.max_position_embeddings)],
    [`${arch}.embedding_length`, u32(config.hidden_size)],
    [`${arch}.feed_forward_length`, u32(config.intermediate_size)],
    [`${arch}.attention.head_count`, u32(config.num_attention_heads)],
    [`${arch}.attention.head_count_kv`, u32(config.num_key_value_heads)],
    [`${arch}.rope.freq_base`, f32(config.rope_theta)],
  ];
  if (config.rms_norm_eps !== undefined) keys.push([`${arch}.attention.layer_norm_rms_epsilon`, f32(config.rms_norm_eps)]);
  if (config.layer_norm_eps !== undefined) keys.push([`${arch}.attention.layer_norm_epsilon`, f32(config.layer_norm_eps)]);
  const numExperts = config.num_local_experts ?? config.num_experts;
  if (numExperts !== undefined) keys.push([`${arch}.expert_count`, u32(numExperts)]);
  if (config.num_experts_per_tok !== undefined) keys.push([`${arch}.expert_used_count`, u32(config.num_experts_per_tok)]);
  if (config.head_dim !== undefined) {
    keys.push([`${arch}.attention.key_length`, u32(config.head_dim)], [`${arch}.attention.value_length`, u32(config.head_dim)]);
  }
  return keys;
}

export interface LlamaStyleOptions {
  normStyle: "unit" | "offset";
  /** q_proj/k_proj rows interleaved for llama.cpp's adjacent-pair RoPE (llama, mistral). */
  permuteQK: boolean;
  embeddingStd?: number;
  /** A layer's MLP; the dense gated MLP by default. */
  mlp?: (layer: number) => CheckpointPlan[];
}

/**
 * std 2/sqrt(hidden) for the embedding and LM head: after the final RMSNorm the logits then have
 * std ~2, so next-token distributions are neither near-uniform nor one-hot.
 */
const vocabStd = (config: HfConfig) => 2 / Math.sqrt(config.hidden_size);

/** The two ends of every family: the embedding, then the output norm and (untied) LM head. */
export function embeddingTensors(config: HfConfig, std = vocabStd(config)): TensorPlan[] {
  return [vocabMatrix("model.embed_tokens.weight", "token_embd.weight", config.vocab_size, config.hidden_size, std)];
}

export function outputTensors(config: HfConfig, normStyle: "unit" | "offset"): TensorPlan[] {
  const tensors = [norm("model.norm.weight", "output_norm.weight", config.hidden_size, normStyle)];
  if (!config.tie_word_embeddings) {
    tensors.push(vocabMatrix("lm_head.weight", "output.weight", config.vocab_size, config.hidden_size, vocabStd(config)));
  }
  return tensors;
}

/** The attention projections of one Llama-style layer (separate q, k, v, o). */
export function attentionTensors(config: HfConfig, layer: number, permuteQK: boolean): TensorPlan[] {
  const hf = `model.layers.${layer}.self_attn`;
  const gguf = `blk.${layer}`;
  const headDim = headDimOf(config);
  const q = linear(`${hf}.q_proj.weight`, `${gguf}.attn_q.weight`, config.num_attention_heads * headDim, config.hidden_size);
  const k = linear(`${hf}.k_proj.weight`, `${gguf}.attn_k.weight`, config.num_key_value_heads * headDim, config.hidden_size);
  if (permuteQK) {
    q.ggufPermuteHeads = config.num_attention_heads;
    k.ggufPermuteHeads = config.num_key_value_heads;
  }
  return [
    q,
    k,
    linear(`${hf}.v_proj.weight`, `${gguf}.attn_v.weight`, config.num_key_value_heads * headDim, config.hidden_size),
    linear(`${hf}.o_proj.weight`, `${gguf}.attn_output.weight`, config.hidden_size, config.num_attention_heads * headDim),
  ];
}

/**
 * A gated MLP (separate gate, up, down) under the HF module `hf`: llama.cpp's ffn_gate, ffn_up and
 * ffn_down, with `ggufSuffix` after each (Qwen2-MoE's shared expert is ffn_gate_shexp etc.).
 */
export function gatedMlpTensors(hf: string, layer: number, ggufSuffix: string, hiddenSize: number, intermediateSize: number): TensorPlan[] {
  const gguf = (projection: string) => `blk.${layer}.ffn_${projection}${ggufSuffix}.weight`;
  return [
    linear(`${hf}.gate_proj.weight`, gguf("gate"), intermediateSize, hiddenSize),
    linear(`${hf}.up_proj.weight`, gguf("up"), intermediateSize, hiddenSize),
    linear(`${hf}.down_proj.weight`, gguf("down"), hiddenSize, intermediateSize),
  ];
}

/** The gated MLP of one Llama-style layer. */
export function mlpTensors(config: HfConfig, layer: number): TensorPlan[] {
  return gatedMlpTensors(`model.layers.${layer}.mlp`, layer, "", config.hidden_size, config.intermediate_size);
}

/** HF names of a sparse MoE layer's router and of expert e's gate, up and down projections. */
export interface MoeNames {
  router: string;
  expert(e: number, projection: "gate" | "up" | "down"): string;
}

/** A sparse MoE layer: the router [experts, hidden] (llama.cpp's ffn_gate_inp), then the experts' gate, up and down. */
export function moeTensors(config: HfConfig, layer: number, names: MoeNames, numExperts: number, intermediateSize: number): CheckpointPlan[] {
  const gguf = `blk.${layer}`;
  const experts = (projection: "gate" | "up" | "down", outFeatures: number, inFeatures: number) =>
    expertStack(`${gguf}.ffn_${projection}_exps.weight`, Array.from({ length: numExperts }, (_, e) => names.expert(e, projection)), outFeatures, inFeatures);
  return [
    linear(names.router, `${gguf}.ffn_gate_inp.weight`, numExperts, config.hidden_size),
    experts("gate", intermediateSize, config.hidden_size),
    experts("up", intermediateSize, config.hidden_size),
    experts("down", config.hidden_size, intermediateSize),
  ];
}

/** A whole Llama-style model: pre-attention norm, attention, pre-MLP norm, MLP in every layer. */
export function llamaStyleTensors(config: HfConfig, options: LlamaStyleOptions, extraLayerTensors?: (layer: number) => TensorPlan[]): CheckpointPlan[] {
  const tensors: CheckpointPlan[] = embeddingTensors(config, options.embeddingStd);
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    tensors.push(
      norm(`model.layers.${layer}.input_layernorm.weight`, `blk.${layer}.attn_norm.weight`, config.hidden_size, options.normStyle),
      ...attentionTensors(config, layer, options.permuteQK),
      ...(extraLayerTensors?.(layer) ?? []),
      norm(`model.layers.${layer}.post_attention_layernorm.weight`, `blk.${layer}.ffn_norm.weight`, config.hidden_size, options.normStyle),
      ...(options.mlp ? options.mlp(layer) : mlpTensors(config, layer)),
    );
  }
  return [...tensors, ...outputTensors(config, options.normStyle)];
}
