// Gemma (Gemma Team 2024): the LLaMA block with three changes. Embeddings are multiplied by
// sqrt(hidden); every RMSNorm scales by (1 + w); the gated MLP uses GELU (tanh approximation)
// instead of SiLU (the config's hidden_activation). head_dim is a free config value (256 in gemma-7b,
// not hidden / heads), and the LM head is tied to the embedding. Named after the Hugging Face classes.
import { Embedding, Linear, Module, RMSNorm, type CausalLM, type StepCtx, type Tensor } from "../dsl/module.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import { LlamaAttention, LlamaMLP, type DecoderBlock } from "./llama.ts";

/** Gemma's norms multiply by (1 + w): the checkpoint stores w around 0. */
export const gemmaNorm = (name: string, c: ModelConfig) => new RMSNorm(name, c.hiddenSize, c.rmsNormEps, 1);

export class GemmaDecoderLayer extends Module implements DecoderBlock {
  readonly selfAttn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly inputLayernorm: RMSNorm;
  readonly postAttentionLayernorm: RMSNorm;
  constructor(c: ModelConfig, layer: number) {
    super();
    const prefix = `model.layers.${layer}`;
    this.selfAttn = new LlamaAttention(c, layer, `${prefix}.self_attn`);
    this.mlp = new LlamaMLP(c, `${prefix}.mlp`);
    this.inputLayernorm = gemmaNorm(`${prefix}.input_layernorm`, c);
    this.postAttentionLayernorm = gemmaNorm(`${prefix}.post_attention_layernorm`, c);
  }
  forward(x: Tensor, ctx: StepCtx): Tensor {
    const h = x.add(this.selfAttn.forward(this.inputLayernorm.forward(x), ctx));
    return h.add(this.mlp.forward(this.postAttentionLayernorm.forward(h)));
  }
}

export class GemmaForCausalLM extends Module implements CausalLM {
  readonly embedTokens: Embedding;
  readonly layers: DecoderBlock[];
  readonly norm: RMSNorm;
  readonly lmHead: Linear;
  readonly numLayers: number;
  constructor(readonly config: ModelConfig, block: (c: ModelConfig, layer: number) => DecoderBlock = (c, layer) => new GemmaDecoderLayer(c, layer)) {
    super();
    const c = config;
    this.embedTokens = new Embedding("model.embed_tokens", c.vocabSize, c.hiddenSize);
    this.layers = Array.from({ length: c.numHiddenLayers }, (_, i) => block(c, i));
    this.norm = gemmaNorm("model.norm", c);
    this.lmHead = new Linear(c.tieWordEmbeddings ? "model.embed_tokens" : "lm_head", c.hiddenSize, c.vocabSize);
    this.numLayers = c.numHiddenLayers;
  }
  forward(inputIds: Tensor, ctx: StepCtx): Tensor {
    let x = this.embedTokens.forward(inputIds, Math.sqrt(this.config.hiddenSize));
    for (const layer of this.layers) x = layer.forward(x, ctx);
    return this.lmHead.forward(this.norm.forward(x).gather(ctx.logitsIndices));
  }
}
