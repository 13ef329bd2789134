// EXAONE 4.0 (LG AI Research 2025, Exaone4ForCausalLM): OLMo 2's post-norm block (each sublayer's
// output RMS-normalized before its residual add) with q and k RMS-normalized per head, as Qwen3
// does. Hybrid models (EXAONE 4.0 32B) make three layers of four attend within a sliding window
// (layer_types) and give the global fourth no RoPE; models without a window (1.2B) rotate on
// every layer. Which layers are global is read from layer_types, not the window, so they stay NoPE
// when the window is switched off (--disable-sliding-window).
import type { ModelConfig } from "../runtime/loader/types.ts";
import { isSlidingLayer } from "./common/hybrid-attention.ts";
import { LlamaForCausalLM } from "./llama.ts";
import { Olmo2DecoderLayer } from "./olmo2.ts";

export class Exaone4ForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    const hybrid = config.layerTypes?.includes("sliding_attention") ?? false;
    super(config, undefined, (c, layer) =>
      new Olmo2DecoderLayer(c, layer, {
        qkNormOver: "head",
        rope: !hybrid || c.layerTypes?.[layer] === "sliding_attention",
        attention: { scale: c.headDim ** -0.5, slidingWindow: isSlidingLayer(c, layer) ? c.slidingWindow : null },
      }),
    );
  }
}
