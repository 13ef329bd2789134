// Gemma-2 (Gemma Team 2024b): Gemma's block with "sandwich" norms (the attention and MLP outputs are
// normalized again before the residual add), attention logits soft-capped (cap * tanh(s / cap)) and
// scaled by query_pre_attn_scalar^-0.5, final logits soft-capped, and local sliding-window attention
// on even layers interleaved with global attention on odd ones (transformers' default layer_types).
import { Module, type AttentionOptions, type RMSNorm, type StepCtx, type Tensor } from "../dsl/module.ts";
import { TsvllmError } from "../runtime/errors.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import { GemmaForCausalLM, gemmaNorm } from "./gemma.ts";
import { LlamaAttention, LlamaMLP, type DecoderBlock, type LlamaAttentionOptions } from "./llama.ts";

function gemma2Attention(c: ModelConfig, layer: number): AttentionOptions {
  // Both loaders fill it for Gemma-2 (config.json default 256; GGUF: llama.cpp's rule).
  if (c.queryPreAttnScalar === null) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${c.architecture}: the config has no query_pre_attn_scalar (Gemma-2 scales attention by it)`, "query_pre_attn_scalar");
  const sliding = layer % 2 === 0;
  return {
    scale: c.queryPreAttnScalar ** -0.5,
    softcap: c.attnLogitSoftcapping,
    slidingWindow: sliding ? c.slidingWindow : null,
  };
}

/** Gemma-2's block; Gemma-3 (gemma3.ts) runs it with its own attention options. */
export class Gemma2DecoderLayer extends Module implements DecoderBlock {
  readonly selfAttn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly inputLayernorm: RMSNorm;
  readonly postAttentionLayernorm: RMSNorm;
  readonly preFeedforwardLayernorm: RMSNorm;
  readonly postFeedforwardLayernorm: RMSNorm;
  constructor(c: ModelConfig, layer: number, attention: LlamaAttentionOptions = { attention: gemma2Attention(c, layer) }) {
    super();
    const prefix = `model.layers.${layer}`;
    this.selfAttn = new LlamaAttention(c, layer, `${prefix}.self_attn`, attention);
    this.mlp = new LlamaMLP(c, `${prefix}.mlp`);
    this.inputLayernorm = gemmaNorm(`${prefix}.input_layernorm`, c);
    this.postAttentionLayernorm = gemmaNorm(`${prefix}.post_attention_layernorm`, c);
    this.preFeedforwardLayernorm = gemmaNorm(`${prefix}.pre_feedforward_layernorm`, c);
    this.postFeedforwardLayernorm = gemmaNorm(`${prefix}.post_feedforward_layernorm`, c);
  }
  forward(x: Tensor, ctx: StepCtx): Tensor {
    const h = x.add(this.postAttentionLayernorm.forward(this.selfAttn.forward(this.inputLayernorm.forward(x), ctx)));
    return h.add(this.postFeedforwardLayernorm.forward(this.mlp.forward(this.preFeedforwardLayernorm.forward(h))));
  }
}

/** Gemma with Gemma-2 blocks, and the final logits soft-capped (when the config caps them). */
export class Gemma2ForCausalLM extends GemmaForCausalLM {
  constructor(config: ModelConfig, block: (c: ModelConfig, layer: number) => DecoderBlock = (c, layer) => new Gemma2DecoderLayer(c, layer)) {
    super(config, block);
  }
  override forward(inputIds: Tensor, ctx: StepCtx): Tensor {
    return super.forward(inputIds, ctx).softcap(this.config.finalLogitSoftcapping);
  }
}
