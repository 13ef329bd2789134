// llama.cpp tensor names -> Hugging Face names, per architecture (llama.cpp's gguf-py tensor map,
// read in reverse). Phi-3 keeps its fused projections; Gemma-2 and -3 have four norms per layer. A sparse
// MoE layer's experts are one 3-D tensor per projection in llama.cpp (ne [in, out, experts]), loaded
// under one name for the stack ([experts, out, in]); HF checkpoints keep one matrix per expert.
// Qwen2-MoE's shared expert is a plain gated MLP, gated itself by shared_expert_gate.

const globalNames: Record<string, string> = {
  "token_embd.weight": "model.embed_tokens.weight",
  "output_norm.weight": "model.norm.weight",
  "output.weight": "lm_head.weight",
};

const layerNames: Record<string, string> = {
  attn_q: "self_attn.q_proj",
  attn_k: "self_attn.k_proj",
  attn_v: "self_attn.v_proj",
  attn_output: "self_attn.o_proj",
  attn_qkv: "self_attn.qkv_proj",
  attn_q_norm: "self_attn.q_norm",
  attn_k_norm: "self_attn.k_norm",
  ffn_gate: "mlp.gate_proj",
  ffn_up: "mlp.up_proj",
  ffn_down: "mlp.down_proj",
  ffn_gate_inp: "mlp.gate",
  ffn_gate_exps: "mlp.experts.gate_proj",
  ffn_up_exps: "mlp.experts.up_proj",
  ffn_down_exps: "mlp.experts.down_proj",
  ffn_gate_shexp: "mlp.shared_expert.gate_proj",
  ffn_up_shexp: "mlp.shared_expert.up_proj",
  ffn_down_shexp: "mlp.shared_expert.down_proj",
  ffn_gate_inp_shexp: "mlp.shared_expert_gate",
  attn_norm: "input_layernorm",
  ffn_norm: "post_attention_layernorm",
  post_attention_norm: "post_attention_layernorm",
  post_ffw_norm: "post_feedforward_layernorm",
};

const architectureOverrides: Record<string, Record<string, string>> = {
  // A "llama" file with experts is Mixtral: w1 is the gate, w3 the up and w2 the down projection.
  llama: {
    ffn_gate_inp: "block_sparse_moe.gate",
    ffn_gate_exps: "block_sparse_moe.experts.w1",
    ffn_up_exps: "block_sparse_moe.experts.w3",
    ffn_down_exps: "block_sparse_moe.experts.w2",
  },
  // GraniteMoE: the router and the experts stacked as the loader stacks an HF checkpoint's (granite-moe.ts).
  granitemoe: {
    ffn_gate_inp: "block_sparse_moe.router.layer",
    ffn_gate_exps: "block_sparse_moe.experts.gate",
    ffn_up_exps: "block_sparse_moe.experts.up",
    ffn_down_exps: "block_sparse_moe.experts.down",
  },
  // Phi-3's ffn_up is HF's fused gate_up_proj (gate rows first, then up rows).
  phi3: { ffn_up: "mlp.gate_up_proj" },
  // Gemma-2 norms the MLP input with its own weight; post_attention_norm is HF's post_attention_layernorm.
  gemma2: { ffn_norm: "pre_feedforward_layernorm" },
  gemma3: { ffn_norm: "pre_feedforward_layernorm" },
  // GLM-4: ffn_norm is HF's post_attention_layernorm (the MLP's input norm), ffn_up its fused gate_up_proj,
  // and the two output norms have their own names.
  glm4: { ffn_up: "mlp.gate_up_proj", post_attention_norm: "post_self_attn_layernorm", post_ffw_norm: "post_mlp_layernorm" },
  // GPT-OSS: the router and the experts stacked as the loader stacks an HF checkpoint's (gpt-oss-experts.ts).
  "gpt-oss": {
    ffn_gate_inp: "mlp.router",
    ffn_gate_exps: "mlp.experts.gate",
    ffn_up_exps: "mlp.experts.up",
    ffn_down_exps: "mlp.experts.down",
  },
};

/** Tensors that are bare parameters in HF (no .weight): GPT-OSS's attention sinks, one logit per head. */
const bareNames: Record<string, string> = { attn_sinks: "self_attn.sinks" };

const layerTensor = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/;

/** The Hugging Face name of a GGUF tensor, or null when the tensor has none. */
export function hfTensorName(ggufName: string, architecture: string): string | null {
  const global = globalNames[ggufName];
  if (global) return global;
  const match = layerTensor.exec(ggufName);
  if (!match) return null;
  const [, layer, part, kind] = match;
  if (bareNames[part] && kind === "weight") return `model.layers.${layer}.${bareNames[part]}`;
  const hfPart = architectureOverrides[architecture]?.[part] ?? layerNames[part];
  return hfPart ? `model.layers.${layer}.${hfPart}.${kind}` : null;
}
