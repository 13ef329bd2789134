// Granite (IBM Granite 3.x, GraniteForCausalLM): LLaMA's network with four multipliers. The token
// embeddings are multiplied by embedding_multiplier, each attention and MLP output by
// residual_multiplier before its residual add, attention scores by attention_multiplier instead of
// head_dim ** -0.5, and the logits divided by logits_scaling.
import { TsvllmError } from "../runtime/errors.ts";
import type { GraniteMultipliers, ModelConfig } from "../runtime/loader/types.ts";
import { LlamaForCausalLM } from "./llama.ts";

function multipliersOf(c: ModelConfig): GraniteMultipliers {
  if (!c.graniteMultipliers) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${c.architecture}: the config has no Granite multipliers`, "embedding_multiplier");
  return c.graniteMultipliers;
}

export class GraniteForCausalLM extends LlamaForCausalLM {
  private readonly multipliers: GraniteMultipliers;
  constructor(config: ModelConfig) {
    const m = multipliersOf(config);
    super(config, { qkNorm: false, residualMultiplier: m.residual, attention: { scale: m.attention, slidingWindow: config.slidingWindow } });
    this.multipliers = m;
  }
  protected override embeddingMultiplier(): number {
    return this.multipliers.embedding;
  }
  protected override logitsScaling(): number {
    return this.multipliers.logitsScaling;
  }
}
