// Architectures keyed by config.json `architectures`, as vLLM's registry is: each entry builds the
// model Module for a config and names how its checkpoint tensors become the model's parameters. An
// unknown architecture gets an error listing the supported ones.
import type { CausalLM } from "../dsl/module.ts";
import { TsvllmError } from "../runtime/errors.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import type { WeightMap } from "./common/weight-map.ts";
import { Cohere2ForCausalLM, CohereForCausalLM } from "./cohere.ts";
import { Exaone4ForCausalLM } from "./exaone4.ts";
import { GemmaForCausalLM } from "./gemma.ts";
import { Gemma2ForCausalLM } from "./gemma2.ts";
import { Gemma3ForCausalLM } from "./gemma3.ts";
import { Glm4ForCausalLM, glm4WeightMap } from "./glm4.ts";
import { GptOssForCausalLM } from "./gpt-oss.ts";
import { GraniteForCausalLM, GraniteMoeForCausalLM } from "./granite.ts";
import { Olmo2ForCausalLM, Olmo3ForCausalLM } from "./olmo2.ts";
import { Ernie4_5ForCausalLM, LlamaForCausalLM, llamaWeightMap, Qwen3ForCausalLM, SmolLM3ForCausalLM } from "./llama.ts";
import { MixtralForCausalLM, mixtralWeightMap, Qwen2MoeForCausalLM, Qwen3MoeForCausalLM, qwenMoeWeightMap } from "./sparse-moe.ts";
import { Phi3ForCausalLM, phi3WeightMap } from "./phi3.ts";

export interface Architecture {
  build: (config: ModelConfig) => CausalLM;
  weightMap: WeightMap;
}

/** An architecture as registered: a weight map that depends on the config (MoE: the expert count) is a function of it. */
interface RegisteredArchitecture {
  build: (config: ModelConfig) => CausalLM;
  weightMap: WeightMap | ((config: ModelConfig) => WeightMap);
}

const causalLMs: Record<string, RegisteredArchitecture> = {
  LlamaForCausalLM: { build: (c) => new LlamaForCausalLM(c), weightMap: llamaWeightMap },
  MistralForCausalLM: { build: (c) => new LlamaForCausalLM(c), weightMap: llamaWeightMap },
  // Qwen2 always has q/k/v biases, whatever the config says.
  Qwen2ForCausalLM: { build: (c) => new LlamaForCausalLM({ ...c, attentionBias: true }), weightMap: llamaWeightMap },
  Qwen3ForCausalLM: { build: (c) => new Qwen3ForCausalLM(c), weightMap: llamaWeightMap },
  SmolLM3ForCausalLM: { build: (c) => new SmolLM3ForCausalLM(c), weightMap: llamaWeightMap },
  Glm4ForCausalLM: { build: (c) => new Glm4ForCausalLM(c), weightMap: glm4WeightMap },
  GraniteForCausalLM: { build: (c) => new GraniteForCausalLM(c), weightMap: llamaWeightMap },
  // The loader stacks its experts already (runtime/loader/granite-moe.ts).
  GraniteMoeForCausalLM: { build: (c) => new GraniteMoeForCausalLM(c), weightMap: llamaWeightMap },
  Olmo2ForCausalLM: { build: (c) => new Olmo2ForCausalLM(c), weightMap: llamaWeightMap },
  Olmo3ForCausalLM: { build: (c) => new Olmo3ForCausalLM(c), weightMap: llamaWeightMap },
  Ernie4_5ForCausalLM: { build: (c) => new Ernie4_5ForCausalLM(c), weightMap: llamaWeightMap },
  Exaone4ForCausalLM: { build: (c) => new Exaone4ForCausalLM(c), weightMap: llamaWeightMap },
  CohereForCausalLM: { build: (c) => new CohereForCausalLM(c), weightMap: llamaWeightMap },
  Cohere2ForCausalLM: { build: (c) => new Cohere2ForCausalLM(c), weightMap: llamaWeightMap },
  Phi3ForCausalLM: { build: (c) => new Phi3ForCausalLM(c), weightMap: phi3WeightMap },
  GemmaForCausalLM: { build: (c) => new GemmaForCausalLM(c), weightMap: llamaWeightMap },
  Gemma2ForCausalLM: { build: (c) => new Gemma2ForCausalLM(c), weightMap: llamaWeightMap },
  Gemma3ForCausalLM: { build: (c) => new Gemma3ForCausalLM(c), weightMap: llamaWeightMap },
  // Their language models alone (runtime/loader/language-model.ts): text prompts only.
  Gemma3ForConditionalGeneration: { build: (c) => new Gemma3ForCausalLM(c), weightMap: llamaWeightMap },
  Mistral3ForConditionalGeneration: { build: (c) => new LlamaForCausalLM(c), weightMap: llamaWeightMap },
  Qwen2VLForConditionalGeneration: { build: (c) => new LlamaForCausalLM({ ...c, attentionBias: true }), weightMap: llamaWeightMap },
  Qwen2_5_VLForConditionalGeneration: { build: (c) => new LlamaForCausalLM({ ...c, attentionBias: true }), weightMap: llamaWeightMap },
  Qwen3VLForConditionalGeneration: { build: (c) => new Qwen3ForCausalLM(c), weightMap: llamaWeightMap },
  MixtralForCausalLM: { build: (c) => new MixtralForCausalLM(c), weightMap: mixtralWeightMap },
  Qwen2MoeForCausalLM: { build: (c) => new Qwen2MoeForCausalLM(c), weightMap: qwenMoeWeightMap },
  Qwen3MoeForCausalLM: { build: (c) => new Qwen3MoeForCausalLM(c), weightMap: qwenMoeWeightMap },
  GptOssForCausalLM: { build: (c) => new GptOssForCausalLM(c), weightMap: llamaWeightMap },
};

/** Base models (no LM head: embedding checkpoints such as e5-mistral) are their CausalLM family, run as pooling models. */
const baseModels = { LlamaModel: "LlamaForCausalLM", MistralModel: "MistralForCausalLM", Qwen2Model: "Qwen2ForCausalLM", Qwen3Model: "Qwen3ForCausalLM" };

/**
 * Sequence classifiers (reward models, classifiers: a `score` head in place of the LM head) are
 * their CausalLM family's decoder, as vLLM's as_seq_cls_model builds them from *ForCausalLM; the
 * engine applies the head (runtime/loader/sequence-classifier.ts).
 */
const sequenceClassifiers = Object.fromEntries(Object.keys(causalLMs).filter((name) => name.endsWith("ForCausalLM")).map((causal) => [causal.replace(/ForCausalLM$/, "ForSequenceClassification"), causal]));

export const architectures: Record<string, RegisteredArchitecture> = {
  ...causalLMs,
  ...Object.fromEntries(Object.entries({ ...baseModels, ...sequenceClassifiers }).map(([pooling, causal]) => [pooling, causalLMs[causal]])),
};

export function architectureOf(config: ModelConfig): Architecture {
  const architecture = architectures[config.architecture];
  if (!architecture) {
    throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `architecture "${config.architecture}" is not supported; supported: ${Object.keys(architectures).join(", ")}`);
  }
  const { build, weightMap } = architecture;
  return { build, weightMap: typeof weightMap === "function" ? weightMap(config) : weightMap };
}

export function buildModel(config: ModelConfig): CausalLM {
  return architectureOf(config).build(config);
}
