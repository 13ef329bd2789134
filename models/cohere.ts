// Cohere Command-R (CohereForCausalLM: Command-R, Aya 23, Aya Expanse) and Command R7B / Command A
// (Cohere2ForCausalLM). A parallel block: one LayerNorm (weight, no bias) feeds attention and the
// MLP side by side, and both outputs join the residual at once. RoPE rotates adjacent pairs
// (GPT-J style), the embeddings are tied and the logits multiplied by logit_scale. Cohere2 slides a
// window on three layers of four (layer_types); the global fourth attends with no RoPE at all.
import { LayerNorm, Module, type StepCtx, type Tensor } from "../dsl/module.ts";
import { TsvllmError } from "../runtime/errors.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import { isSlidingLayer } from "./common/hybrid-attention.ts";
import { LlamaAttention, LlamaForCausalLM, LlamaMLP, type DecoderBlock, type LlamaAttentionOptions } from "./llama.ts";

export class CohereDecoderLayer extends Module implements DecoderBlock {
  readonly selfAttn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly inputLayernorm: LayerNorm;
  constructor(c: ModelConfig, layer: number, attention: LlamaAttentionOptions) {
    super();
    const prefix = `model.layers.${layer}`;
    this.selfAttn = new LlamaAttention(c, layer, `${prefix}.self_attn`, { ropeLayout: "gptj", ...attention });
    this.mlp = new LlamaMLP(c, `${prefix}.mlp`);
    this.inputLayernorm = new LayerNorm(`${prefix}.input_layernorm`, c.hiddenSize, c.rmsNormEps);
  }
  forward(x: Tensor, ctx: StepCtx): Tensor {
    const normed = this.inputLayernorm.forward(x);
    return x.add(this.selfAttn.forward(normed, ctx)).add(this.mlp.forward(normed));
  }
}

function logitScaleOf(c: ModelConfig): number {
  if (c.logitScale === undefined) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${c.architecture}: the config has no logit_scale`, "logit_scale");
  return c.logitScale;
}

export class CohereForCausalLM extends LlamaForCausalLM {
  private readonly logitScale: number;
  constructor(config: ModelConfig, attention: (c: ModelConfig, layer: number) => LlamaAttentionOptions = () => ({})) {
    const logitScale = logitScaleOf(config);
    super(config, undefined, (c, layer) => new CohereDecoderLayer(c, layer, attention(c, layer)));
    this.logitScale = logitScale;
  }
  protected override finalNorm(c: ModelConfig): LayerNorm {
    return new LayerNorm("model.norm", c.hiddenSize, c.rmsNormEps);
  }
  protected override logitsScaling(): number {
    return 1 / this.logitScale;
  }
}

/**
 * Global layers are told by layer_types rather than by the window, so they stay NoPE when the
 * window is switched off (--disable-sliding-window), as Cohere2's layers were trained.
 */
export class Cohere2ForCausalLM extends CohereForCausalLM {
  constructor(config: ModelConfig) {
    super(config, (c, layer) => ({
      rope: c.layerTypes?.[layer] !== "full_attention",
      attention: { scale: c.headDim ** -0.5, slidingWindow: isSlidingLayer(c, layer) ? c.slidingWindow : null },
    }));
  }
}
