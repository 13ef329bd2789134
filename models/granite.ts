// Granite (IBM Granite 3.x, GraniteForCausalLM; GraniteMoeForCausalLM below): LLaMA's network with
// four multipliers. The token embeddings are multiplied by embedding_multiplier, each attention and MLP output by
// residual_multiplier before its residual add, attention scores by attention_multiplier instead of
// head_dim ** -0.5, and the logits divided by logits_scaling.
import { TsvllmError } from "../runtime/errors.ts";
import type { GraniteMultipliers, ModelConfig } from "../runtime/loader/types.ts";
import { LlamaForCausalLM, type LlamaLayerOptions } from "./llama.ts";
import { SparseMoeBlock } from "./sparse-moe.ts";

function multipliersOf(c: ModelConfig): GraniteMultipliers {
  if (!c.graniteMultipliers) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${c.architecture}: the config has no Granite multipliers`, "embedding_multiplier");
  return c.graniteMultipliers;
}

export class GraniteForCausalLM extends LlamaForCausalLM {
  private readonly multipliers: GraniteMultipliers;
  constructor(config: ModelConfig, feedForward?: LlamaLayerOptions["feedForward"]) {
    const m = multipliersOf(config);
    super(config, { qkNorm: false, residualMultiplier: m.residual, attention: { scale: m.attention, slidingWindow: config.slidingWindow }, feedForward });
    this.multipliers = m;
  }
  protected override embeddingMultiplier(): number {
    return this.multipliers.embedding;
  }
  protected override logitsScaling(): number {
    return this.multipliers.logitsScaling;
  }
}

const graniteMoeExperts = { gate: "gate", up: "up", down: "down" };

/**
 * GraniteMoE (GraniteMoeForCausalLM, Granite 3.x MoE): Granite's multipliers around a sparse MoE in
 * every layer, routed at `block_sparse_moe.router.layer` to the experts stacked by the loader
 * (runtime/loader/granite-moe.ts splits the checkpoint's input_linear into gate and up).
 */
export class GraniteMoeForCausalLM extends GraniteForCausalLM {
  constructor(config: ModelConfig) {
    super(config, (c, prefix) => new SparseMoeBlock(c, `${prefix}.block_sparse_moe`, graniteMoeExperts, "router.layer"));
  }
}
