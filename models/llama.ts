// LLaMA (Touvron et al. 2023) and the families that share its block: Mistral (sliding window),
// Qwen2 (q/k/v bias), Qwen3 (per-head RMSNorm on q and k), Phi-3 (phi3.ts); Gemma (gemma.ts) reuses
// its attention and MLP. Named after the Hugging Face classes. Pre-norm blocks, written naively:
// the compiler fuses residual-add + RMSNorm and act(gate) * up.
import { Embedding, geluTanh, LayerNorm, Linear, Module, RMSNorm, rope, silu, type AttentionOptions, type CausalLM, type StepCtx, type Tensor } from "../dsl/module.ts";
import { TsvllmError } from "../runtime/errors.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import type { WeightMap } from "./common/weight-map.ts";

export interface LlamaAttentionOptions {
  /** Qwen3: RMSNorm over each head of q and k before RoPE. */
  qkNorm?: boolean;
  /** OLMo2 normalizes q and k over the whole projection (all heads at once) instead of per head. */
  qkNormOver?: "head" | "projection";
  /** Those norms' RMSNorm weightOffset: 1 for Gemma-3's (1 + w). */
  qkNormWeightOffset?: number;
  /** The RoPE table this layer rotates by (models/common/rope.ts ropeTables); "default" unless set. */
  ropeKey?: string;
  /** False for SmolLM3's NoPE layers, whose q and k are not rotated at all. */
  rope?: boolean;
  /** A bias on o_proj too (ERNIE 4.5's use_bias); q/k/v biases follow the config's attentionBias. */
  outputBias?: boolean;
  /** How RoPE pairs a head's dims: halves (NeoX, the default) or adjacent pairs (GPT-J: GLM-4). */
  ropeLayout?: "neox" | "gptj";
  /** Scale, soft-cap and window of this layer's attention; by default 1/sqrt(head_dim) and the config's window. */
  attention?: AttentionOptions;
}

export class LlamaAttention extends Module {
  readonly qkvProj: Linear;
  readonly oProj: Linear;
  readonly qNorm: RMSNorm | null;
  readonly kNorm: RMSNorm | null;
  private readonly attention: AttentionOptions;
  private readonly ropeKey: string | undefined;
  private readonly rotates: boolean;
  private readonly ropeLayout: "neox" | "gptj";
  private readonly qkNormOverProjection: boolean;
  constructor(private readonly c: ModelConfig, private readonly layer: number, prefix: string, options: LlamaAttentionOptions = {}) {
    super();
    const qkvSize = (c.numAttentionHeads + 2 * c.numKeyValueHeads) * c.headDim;
    const kvSize = c.numKeyValueHeads * c.headDim;
    this.qkvProj = new Linear(`${prefix}.qkv_proj`, c.hiddenSize, qkvSize, c.attentionBias, [c.numAttentionHeads * c.headDim, kvSize, kvSize]);
    this.oProj = new Linear(`${prefix}.o_proj`, c.numAttentionHeads * c.headDim, c.hiddenSize, options.outputBias ?? false);
    const qkNormOffset = options.qkNormWeightOffset ?? 0;
    this.qkNormOverProjection = options.qkNormOver === "projection";
    const [qNormSize, kNormSize] = this.qkNormOverProjection ? [c.numAttentionHeads * c.headDim, kvSize] : [c.headDim, c.headDim];
    this.qNorm = options.qkNorm ? new RMSNorm(`${prefix}.q_norm`, qNormSize, c.rmsNormEps, qkNormOffset) : null;
    this.kNorm = options.qkNorm ? new RMSNorm(`${prefix}.k_norm`, kNormSize, c.rmsNormEps, qkNormOffset) : null;
    this.attention = options.attention ?? { scale: c.headDim ** -0.5, slidingWindow: c.slidingWindow };
    this.ropeKey = options.ropeKey;
    this.rotates = options.rope ?? true;
    this.ropeLayout = options.ropeLayout ?? "neox";
  }

  forward(x: Tensor, ctx: StepCtx): Tensor {
    const { numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = this.c;
    let [q, k, v] = this.qkvProj.forward(x).split([heads * headDim, kvHeads * headDim, kvHeads * headDim]);
    if (this.qNorm && this.kNorm && this.qkNormOverProjection) [q, k] = [this.qNorm.forward(q), this.kNorm.forward(k)];
    q = q.view(heads, headDim);
    k = k.view(kvHeads, headDim);
    if (this.qNorm && this.kNorm && !this.qkNormOverProjection) [q, k] = [this.qNorm.forward(q), this.kNorm.forward(k)];
    const rotary = { layout: this.ropeLayout, rotaryDim: Math.round(headDim * this.c.partialRotaryFactor), key: this.ropeKey };
    if (this.rotates) {
      q = rope(q, ctx.positions, rotary);
      k = rope(k, ctx.positions, rotary);
    }
    const o = ctx.kv.attend(this.layer, q, k, v.view(kvHeads, headDim), this.attention);
    return this.oProj.forward(o.view(heads * headDim));
  }
}

/** The config's MLP activation: SiLU (LLaMA, Qwen, Phi-3) or GELU's tanh approximation (Gemma). */
function activation(c: ModelConfig): (x: Tensor) => Tensor {
  switch (c.hiddenAct) {
    case "silu":
      return silu;
    case "gelu_pytorch_tanh":
      return geluTanh;
    case "gelu":
      throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `${c.architecture}: the exact (erf) GELU activation is not supported; gelu_pytorch_tanh is`, "hidden_act");
  }
}

/** The gated MLP: down(act(gate(x)) * up(x)), gate and up as one projection. */
export class LlamaMLP extends Module {
  readonly gateUpProj: Linear;
  readonly downProj: Linear;
  private readonly act: (x: Tensor) => Tensor;
  constructor(c: ModelConfig, prefix: string, intermediateSize = c.intermediateSize) {
    super();
    this.gateUpProj = new Linear(`${prefix}.gate_up_proj`, c.hiddenSize, 2 * intermediateSize, false, [intermediateSize, intermediateSize]);
    this.downProj = new Linear(`${prefix}.down_proj`, intermediateSize, c.hiddenSize);
    this.act = activation(c);
  }
  forward(x: Tensor): Tensor {
    const [gate, up] = this.gateUpProj.forward(x).chunk(2);
    return this.downProj.forward(this.act(gate).mul(up));
  }
}

/** What follows a decoder layer's attention: the dense gated MLP, or a sparse MoE block (sparse-moe.ts). */
export interface FeedForward {
  forward(x: Tensor): Tensor;
}

export interface LlamaLayerOptions extends LlamaAttentionOptions {
  qkNorm: boolean;
  /** Granite scales the attention and MLP outputs by this before each residual add; 1 by default. */
  residualMultiplier?: number;
  /** The layer's feed-forward block from its prefix (`model.layers.N`); LlamaMLP at `<prefix>.mlp` by default. */
  feedForward?: (c: ModelConfig, layerPrefix: string) => FeedForward;
}

export class LlamaDecoderLayer extends Module {
  readonly selfAttn: LlamaAttention;
  readonly mlp: FeedForward;
  readonly inputLayernorm: RMSNorm;
  readonly postAttentionLayernorm: RMSNorm;
  private readonly residualMultiplier: number;
  constructor(c: ModelConfig, layer: number, options: LlamaLayerOptions) {
    super();
    this.residualMultiplier = options.residualMultiplier ?? 1;
    const prefix = `model.layers.${layer}`;
    this.selfAttn = new LlamaAttention(c, layer, `${prefix}.self_attn`, options);
    this.mlp = options.feedForward ? options.feedForward(c, prefix) : new LlamaMLP(c, `${prefix}.mlp`);
    this.inputLayernorm = new RMSNorm(`${prefix}.input_layernorm`, c.hiddenSize, c.rmsNormEps);
    this.postAttentionLayernorm = new RMSNorm(`${prefix}.post_attention_layernorm`, c.hiddenSize, c.rmsNormEps);
  }
  forward(x: Tensor, ctx: StepCtx): Tensor {
    const h = x.add(this.selfAttn.forward(this.inputLayernorm.forward(x), ctx).scale(this.residualMultiplier));
    return h.add(this.mlp.forward(this.postAttentionLayernorm.forward(h)).scale(this.residualMultiplier));
  }
}

/** One block of a LLaMA-like stack: LlamaDecoderLayer, or another family's (OLMo2's post-norm block). */
export interface DecoderBlock {
  forward(x: Tensor, ctx: StepCtx): Tensor;
}

export class LlamaForCausalLM extends Module implements CausalLM {
  readonly embedTokens: Embedding;
  readonly layers: DecoderBlock[];
  readonly norm: RMSNorm | LayerNorm;
  readonly lmHead: Linear;
  readonly numLayers: number;
  constructor(
    readonly config: ModelConfig,
    options: LlamaLayerOptions = { qkNorm: false },
    block: (c: ModelConfig, layer: number) => DecoderBlock = (c, layer) => new LlamaDecoderLayer(c, layer, options),
  ) {
    super();
    const c = config;
    this.embedTokens = new Embedding("model.embed_tokens", c.vocabSize, c.hiddenSize);
    this.layers = Array.from({ length: c.numHiddenLayers }, (_, i) => block(c, i));
    this.norm = this.finalNorm(c);
    this.lmHead = new Linear(c.tieWordEmbeddings ? "model.embed_tokens" : "lm_head", c.hiddenSize, c.vocabSize);
    this.numLayers = c.numHiddenLayers;
  }
  /** The norm before the LM head: RMSNorm here, Cohere's LayerNorm there. Called from the constructor, so it may read only `c`. */
  protected finalNorm(c: ModelConfig): RMSNorm | LayerNorm {
    return new RMSNorm("model.norm", c.hiddenSize, c.rmsNormEps);
  }
  /** Scales the token embeddings (Granite's embedding_multiplier); 1 here. */
  protected embeddingMultiplier(): number {
    return 1;
  }
  /** Divides the logits (Granite's logits_scaling); 1 here. */
  protected logitsScaling(): number {
    return 1;
  }
  forward(inputIds: Tensor, ctx: StepCtx): Tensor {
    let x = this.embedTokens.forward(inputIds, this.embeddingMultiplier());
    for (const layer of this.layers) x = layer.forward(x, ctx);
    return this.lmHead.forward(this.norm.forward(x).gather(ctx.logitsIndices)).scale(1 / this.logitsScaling());
  }
}

/** SmolLM3 (Hugging Face 2025): LLaMA whose NoPE layers (every fourth by default) attend without RoPE. */
export class SmolLM3ForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    super(config, undefined, (c, layer) => new LlamaDecoderLayer(c, layer, { qkNorm: false, rope: c.ropeLayers?.[layer] ?? true }));
  }
}

/** ERNIE 4.5 (Baidu 2025; the dense models): LLaMA with RoPE on adjacent pairs and, with use_bias, biases on all four projections. */
export class Ernie4_5ForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    super(config, { qkNorm: false, ropeLayout: "gptj", outputBias: config.attentionBias });
  }
}

export class Qwen3ForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    super(config, { qkNorm: true });
  }
}

/** q/k/v stacked into qkv_proj and gate/up into gate_up_proj; Mistral, Qwen2/3 and Gemma share it. */
export const llamaWeightMap: WeightMap = {
  "self_attn.qkv_proj": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
  "mlp.gate_up_proj": ["mlp.gate_proj", "mlp.up_proj"],
};
