// OLMo 2 (OLMo Team 2024, Olmo2ForCausalLM): LLaMA's attention and MLP with the norms moved after
// them. A block normalizes each sublayer's output (post_attention_layernorm,
// post_feedforward_layernorm) before its residual add, and nothing before; q and k are each
// RMS-normalized over the whole projection (all heads together) before RoPE. OLMo 3
// (Olmo3ForCausalLM) makes three layers of each four attend within a sliding window, rotated by
// the unscaled RoPE table (the global layers keep rope_scaling).
import { Module, RMSNorm, type StepCtx, type Tensor } from "../dsl/module.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import { layerAttention } from "./common/hybrid-attention.ts";
import { LlamaAttention, LlamaForCausalLM, LlamaMLP, type DecoderBlock, type LlamaAttentionOptions } from "./llama.ts";

export class Olmo2DecoderLayer extends Module implements DecoderBlock {
  readonly selfAttn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly postAttentionLayernorm: RMSNorm;
  readonly postFeedforwardLayernorm: RMSNorm;
  constructor(c: ModelConfig, layer: number, attention: LlamaAttentionOptions = {}) {
    super();
    const prefix = `model.layers.${layer}`;
    this.selfAttn = new LlamaAttention(c, layer, `${prefix}.self_attn`, { qkNorm: true, qkNormOver: "projection", ...attention });
    this.mlp = new LlamaMLP(c, `${prefix}.mlp`);
    this.postAttentionLayernorm = new RMSNorm(`${prefix}.post_attention_layernorm`, c.hiddenSize, c.rmsNormEps);
    this.postFeedforwardLayernorm = new RMSNorm(`${prefix}.post_feedforward_layernorm`, c.hiddenSize, c.rmsNormEps);
  }
  forward(x: Tensor, ctx: StepCtx): Tensor {
    const h = x.add(this.postAttentionLayernorm.forward(this.selfAttn.forward(x, ctx)));
    return h.add(this.postFeedforwardLayernorm.forward(this.mlp.forward(h)));
  }
}

export class Olmo2ForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    super(config, undefined, (c, layer) => new Olmo2DecoderLayer(c, layer));
  }
}

export class Olmo3ForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    super(config, undefined, (c, layer) => new Olmo2DecoderLayer(c, layer, layerAttention(c, layer, { scale: c.headDim ** -0.5 })));
  }
}
