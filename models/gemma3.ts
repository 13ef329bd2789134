// Gemma-3 (Gemma Team 2025), text only: Gemma-2's block (sandwich norms, GELU MLP, embeddings
// scaled by sqrt(hidden), tied head) without attention soft-capping, with q and k normalized per head
// (Gemma's (1 + w) RMSNorm, as Qwen3 does with plain ones), and five sliding-window layers to each
// global one (layer_types). The sliding layers rotate by their own unscaled RoPE base
// (rope_local_base_freq, 10000), the global ones by rope_theta with rope_scaling.
import { TsvllmError } from "../runtime/errors.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import { layerAttention } from "./common/hybrid-attention.ts";
import { Gemma2DecoderLayer, Gemma2ForCausalLM } from "./gemma2.ts";
import type { LlamaAttentionOptions } from "./llama.ts";

function gemma3Attention(c: ModelConfig, layer: number): LlamaAttentionOptions {
  if (c.queryPreAttnScalar === null) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${c.architecture}: the config has no query_pre_attn_scalar (Gemma-3 scales attention by it)`, "query_pre_attn_scalar");
  return { qkNorm: true, qkNormWeightOffset: 1, ...layerAttention(c, layer, { scale: c.queryPreAttnScalar ** -0.5, softcap: c.attnLogitSoftcapping }) };
}

/** Gemma-2's model with Gemma-3's attention in every block; its final logits are not capped unless the config says so. */
export class Gemma3ForCausalLM extends Gemma2ForCausalLM {
  constructor(config: ModelConfig) {
    super(config, (c, layer) => new Gemma2DecoderLayer(c, layer, gemma3Attention(c, layer)));
  }
}
