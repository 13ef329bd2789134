// Architectures keyed by config.json `architectures`, as vLLM's registry is: each entry builds the
// model Module for a config. An unknown architecture gets an error listing the supported ones.
import type { CausalLM } from "../dsl/module.ts";
import { TsvllmError } from "../runtime/errors.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import { LlamaForCausalLM, Qwen3ForCausalLM } from "./llama.ts";

type Builder = (config: ModelConfig) => CausalLM;

export const architectures: Record<string, Builder> = {
  LlamaForCausalLM: (c) => new LlamaForCausalLM(c),
  MistralForCausalLM: (c) => new LlamaForCausalLM(c),
  // Qwen2 always has q/k/v biases, whatever the config says.
  Qwen2ForCausalLM: (c) => new LlamaForCausalLM({ ...c, attentionBias: true }),
  Qwen3ForCausalLM: (c) => new Qwen3ForCausalLM(c),
};

export function buildModel(config: ModelConfig): CausalLM {
  const build = architectures[config.architecture];
  if (!build) {
    throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `architecture "${config.architecture}" is not supported; supported: ${Object.keys(architectures).join(", ")}`);
  }
  return build(config);
}
