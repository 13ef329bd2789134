// GLM-4 (GLM-4-0414, Glm4ForCausalLM; Team GLM 2024): LLaMA's projections with q/k/v biases, RoPE
// on adjacent pairs (GPT-J style) of the first half of each head (partial_rotary_factor 0.5), and
// four norms a layer: each sublayer's input and output are normalized (post_self_attn_layernorm,
// post_mlp_layernorm) before its residual add. The checkpoint stores gate and up fused (gate_up_proj).
import { Module, RMSNorm, type StepCtx, type Tensor } from "../dsl/module.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import type { WeightMap } from "./common/weight-map.ts";
import { LlamaAttention, LlamaForCausalLM, LlamaMLP, type DecoderBlock } from "./llama.ts";

export class Glm4DecoderLayer extends Module implements DecoderBlock {
  readonly selfAttn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly inputLayernorm: RMSNorm;
  readonly postSelfAttnLayernorm: RMSNorm;
  readonly postAttentionLayernorm: RMSNorm;
  readonly postMlpLayernorm: RMSNorm;
  constructor(c: ModelConfig, layer: number) {
    super();
    const prefix = `model.layers.${layer}`;
    const norm = (name: string) => new RMSNorm(`${prefix}.${name}`, c.hiddenSize, c.rmsNormEps);
    this.selfAttn = new LlamaAttention(c, layer, `${prefix}.self_attn`, { ropeLayout: "gptj" });
    this.mlp = new LlamaMLP(c, `${prefix}.mlp`);
    this.inputLayernorm = norm("input_layernorm");
    this.postSelfAttnLayernorm = norm("post_self_attn_layernorm");
    this.postAttentionLayernorm = norm("post_attention_layernorm");
    this.postMlpLayernorm = norm("post_mlp_layernorm");
  }
  forward(x: Tensor, ctx: StepCtx): Tensor {
    const h = x.add(this.postSelfAttnLayernorm.forward(this.selfAttn.forward(this.inputLayernorm.forward(x), ctx)));
    return h.add(this.postMlpLayernorm.forward(this.mlp.forward(this.postAttentionLayernorm.forward(h))));
  }
}

export class Glm4ForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    super({ ...config, attentionBias: true }, undefined, (c, layer) => new Glm4DecoderLayer(c, layer));
  }
}

/** q/k/v stacked into qkv_proj; gate_up_proj is stored fused. */
export const glm4WeightMap: WeightMap = { "self_attn.qkv_proj": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"] };
