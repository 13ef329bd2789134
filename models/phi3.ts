// Phi-3 (Abdin et al. 2024): the LLaMA block (pre-norm, RoPE over the first partial_rotary_factor of
// each head, GQA, SwiGLU, a sliding window when the config sets one), but its checkpoint already
// stores q/k/v as one qkv_proj (rows q, k, v) and gate/up as one gate_up_proj (rows gate, up): the
// layout LlamaForCausalLM computes with, so no tensor is stacked at load (vLLM does the same).
import type { WeightMap } from "./common/weight-map.ts";
import { LlamaForCausalLM } from "./llama.ts";

export class Phi3ForCausalLM extends LlamaForCausalLM {}

export const phi3WeightMap: WeightMap = {};
