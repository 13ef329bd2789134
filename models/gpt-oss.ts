// GPT-OSS (OpenAI 2025, gpt-oss-20b / -120b): LLaMA-style pre-norm blocks whose attention has biases
// on q/k/v/o and a learned sink logit per head in every softmax's denominator (the weights of the
// real keys sum to less than one), alternating a 128-token sliding window (even layers) with global
// attention on one YaRN-scaled RoPE table, and a sparse MoE in every layer: a biased router whose
// top-k logits are softmaxed, and experts with biased projections and a SwiGLU clamped at
// swiglu_limit: h = g' sigmoid(1.702 g') (u' + 1), g' = min(g, limit), u' = clamp(u, -limit, limit).
import { FusedMoE, Linear, Module, Parameter, type Tensor } from "../dsl/module.ts";
import { TsvllmError } from "../runtime/errors.ts";
import type { ModelConfig, MoeConfig } from "../runtime/loader/types.ts";
import { layerAttention } from "./common/hybrid-attention.ts";
import { LlamaDecoderLayer, LlamaForCausalLM, type FeedForward } from "./llama.ts";

/** The SwiGLU's slope (transformers' GptOssExperts.alpha, llama.cpp's ggml_swiglu_oai alpha): a constant of the model, not a config field. */
const swigluAlpha = 1.702;

function gptOssMoe(c: ModelConfig): MoeConfig & { swigluLimit: number } {
  const moe = c.moe;
  if (!moe || moe.swigluLimit === undefined) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${c.architecture}: the config names no experts with a SwiGLU limit (num_local_experts, swiglu_limit)`, "num_local_experts");
  return { ...moe, swigluLimit: moe.swigluLimit };
}

/** `<prefix>.router` (biased, one logit per expert) and the experts stacked as `<prefix>.experts.<gate|up|down>.{weight,bias}`. */
export class GptOssMLP extends Module implements FeedForward {
  readonly router: Linear;
  readonly experts: FusedMoE;
  constructor(c: ModelConfig, prefix: string) {
    super();
    const moe = gptOssMoe(c);
    this.router = new Linear(`${prefix}.router`, c.hiddenSize, moe.numExperts, true);
    const stacked = (name: string) => `${prefix}.experts.${name}.weight`;
    this.experts = new FusedMoE({ gate: stacked("gate"), up: stacked("up"), down: stacked("down") }, c.hiddenSize, {
      numExperts: moe.numExperts, topK: moe.numExpertsPerTok, intermediateSize: moe.intermediateSize, renormalize: true,
      activation: { kind: "swigluOai", alpha: swigluAlpha, limit: moe.swigluLimit }, bias: true,
    });
  }
  forward(x: Tensor): Tensor {
    return this.experts.forward(x, this.router.forward(x));
  }
}

export class GptOssForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    super(config, undefined, (c, layer) => {
      const sinks = new Parameter(`model.layers.${layer}.self_attn.sinks`, [c.numAttentionHeads]);
      return new LlamaDecoderLayer(c, layer, {
        qkNorm: false,
        outputBias: true,
        ...layerAttention(c, layer, { scale: c.headDim ** -0.5, sinks }),
        feedForward: (cfg, prefix) => new GptOssMLP(cfg, `${prefix}.mlp`),
      });
    });
  }
}
