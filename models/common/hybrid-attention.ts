// Models whose layers mix sliding-window and global attention (Gemma-3, OLMo 3): which layers slide,
// and the attention options of a layer, whose RoPE table is the local one when it slides and the
// config has one (the global layers' RoPE scaling does not apply to the sliding ones).
import type { AttentionOptions } from "../../dsl/module.ts";
import type { ModelConfig } from "../../runtime/loader/types.ts";
import { localRopeKey } from "./rope.ts";

/** Whether a layer attends within the window: as the config's layer_types say, else every layer when there is a window. */
export function isSlidingLayer(c: ModelConfig, layer: number): boolean {
  if (c.slidingWindow === null) return false;
  return c.layerTypes ? c.layerTypes[layer] === "sliding_attention" : true;
}

/** A layer's window and RoPE table, beside the given scale and soft cap. */
export function layerAttention(c: ModelConfig, layer: number, scoring: Omit<AttentionOptions, "slidingWindow">): { attention: AttentionOptions; ropeKey?: string } {
  const sliding = isSlidingLayer(c, layer);
  return {
    attention: { ...scoring, slidingWindow: sliding ? c.slidingWindow : null },
    ...(sliding && c.ropeLocalTheta !== undefined ? { ropeKey: localRopeKey } : {}),
  };
}
