// Sparse mixture-of-experts LLaMA blocks: Mixtral (Jiang et al. 2024; Mistral's attention),
// Qwen2-MoE (Qwen2's attention with q/k/v biases, and a shared expert every token runs, gated by
// sigmoid(x . shared_expert_gate)) and Qwen3-MoE (Qwen3's attention, q/k RMSNorm). Their MLPs are
// a router and numExperts SwiGLU experts, of which each token runs numExpertsPerTok
// (ModelConfig.moe). Checkpoints hold each expert's projections apart; the weight maps stack them
// by rows into one parameter per projection, the layout of dsl/kernels/moe.ts (a GGUF's
// ffn_*_exps tensors are that stack already).
import { FusedMoE, Linear, Module, type Tensor } from "../dsl/module.ts";
import { TsvllmError } from "../runtime/errors.ts";
import type { ModelConfig, MoeConfig } from "../runtime/loader/types.ts";
import type { WeightMap } from "./common/weight-map.ts";
import { LlamaForCausalLM, LlamaMLP, llamaWeightMap, type FeedForward } from "./llama.ts";

function moeOf(c: ModelConfig): MoeConfig {
  if (!c.moe) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${c.architecture}: the config names no experts (num_local_experts / num_experts)`, "num_experts");
  return c.moe;
}

/** The router (`<block>.gate` unless named, one logit per expert) and the experts (`<block>.experts.<gate|up|down>`, stacked). */
export class SparseMoeBlock extends Module implements FeedForward {
  readonly gate: Linear;
  readonly experts: FusedMoE;
  /** Qwen2-MoE's shared expert (`<block>.shared_expert`) and its gate (`<block>.shared_expert_gate`, one logit). */
  readonly sharedExpert: { mlp: LlamaMLP; gate: Linear } | null;
  constructor(c: ModelConfig, prefix: string, names: { gate: string; up: string; down: string }, router = "gate") {
    super();
    const moe = moeOf(c);
    this.gate = new Linear(`${prefix}.${router}`, c.hiddenSize, moe.numExperts);
    const shared = moe.sharedExpertIntermediateSize;
    this.sharedExpert = shared ? { mlp: new LlamaMLP(c, `${prefix}.shared_expert`, shared), gate: new Linear(`${prefix}.shared_expert_gate`, c.hiddenSize, 1) } : null;
    const stacked = (name: string) => `${prefix}.experts.${name}.weight`;
    this.experts = new FusedMoE({ gate: stacked(names.gate), up: stacked(names.up), down: stacked(names.down) }, c.hiddenSize, {
      numExperts: moe.numExperts, topK: moe.numExpertsPerTok, intermediateSize: moe.intermediateSize, renormalize: moe.normTopkProb,
    });
  }
  forward(x: Tensor): Tensor {
    const shared = this.sharedExpert && { output: this.sharedExpert.mlp.forward(x), gate: this.sharedExpert.gate.forward(x) };
    return this.experts.forward(x, this.gate.forward(x), shared ?? undefined);
  }
}

const mixtralExperts = { gate: "w1", up: "w3", down: "w2" };
/** Qwen2-MoE's and Qwen3-MoE's names. */
const qwenMoeExperts = { gate: "gate_proj", up: "up_proj", down: "down_proj" };

export class MixtralForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    super(config, { qkNorm: false, feedForward: (c, prefix) => new SparseMoeBlock(c, `${prefix}.block_sparse_moe`, mixtralExperts) });
  }
}

export class Qwen2MoeForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    // q/k/v biases as the config's qkv_bias says (the loader's attentionBias; transformers' default true).
    super(config, { qkNorm: false, feedForward: (c, prefix) => new SparseMoeBlock(c, `${prefix}.mlp`, qwenMoeExperts) });
  }
}

export class Qwen3MoeForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig) {
    super(config, { qkNorm: true, feedForward: (c, prefix) => new SparseMoeBlock(c, `${prefix}.mlp`, qwenMoeExperts) });
  }
}

/** llamaWeightMap, and each stacked expert projection from the checkpoint's per-expert ones. */
function moeWeightMap(block: string, names: { gate: string; up: string; down: string }): (c: ModelConfig) => WeightMap {
  return (c) => {
    const experts = Array.from({ length: moeOf(c).numExperts }, (_, e) => e);
    const stacks = Object.values(names).map((name) => [`${block}.experts.${name}`, experts.map((e) => `${block}.experts.${e}.${name}`)] as const);
    // A shared expert's gate and up projections fuse as a dense MLP's do.
    const shared = moeOf(c).sharedExpertIntermediateSize ? { [`${block}.shared_expert.gate_up_proj`]: [`${block}.shared_expert.gate_proj`, `${block}.shared_expert.up_proj`] } : {};
    return { ...llamaWeightMap, ...Object.fromEntries(stacks), ...shared };
  };
}

export const mixtralWeightMap = moeWeightMap("block_sparse_moe", mixtralExperts);
/** Qwen2-MoE's and Qwen3-MoE's. */
export const qwenMoeWeightMap = moeWeightMap("mlp", qwenMoeExperts);
