// Small configs of each supported architecture, for `tsvllm compile --arch <name>` without a
// checkpoint (a quick check that an architecture compiles) and for tests.
import { TsvllmError } from "../runtime/errors.ts";
import type { ModelConfig } from "../runtime/loader/types.ts";
import { architectures } from "./registry.ts";

const base: ModelConfig = {
  architecture: "LlamaForCausalLM",
  modelType: "llama",
  hiddenSize: 64,
  intermediateSize: 128,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 16,
  vocabSize: 512,
  maxPositionEmbeddings: 256,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  ropeScaling: null,
  partialRotaryFactor: 1,
  tieWordEmbeddings: false,
  hiddenAct: "silu",
  attentionBias: false,
  slidingWindow: null,
  finalLogitSoftcapping: null,
  attnLogitSoftcapping: null,
  queryPreAttnScalar: null,
  bosTokenId: 1,
  eosTokenIds: [2],
  torchDtype: "float32",
};

/** Short names (as in `--arch llama`) -> Hugging Face architecture names. */
export const archNames: Record<string, string> = {
  llama: "LlamaForCausalLM",
  mistral: "MistralForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  qwen3: "Qwen3ForCausalLM",
  phi3: "Phi3ForCausalLM",
  gemma: "GemmaForCausalLM",
  gemma2: "Gemma2ForCausalLM",
  gemma3: "Gemma3ForCausalLM",
  granite: "GraniteForCausalLM",
  olmo2: "Olmo2ForCausalLM",
  olmo3: "Olmo3ForCausalLM",
  smollm3: "SmolLM3ForCausalLM",
  glm4: "Glm4ForCausalLM",
  exaone4: "Exaone4ForCausalLM",
  ernie4_5: "Ernie4_5ForCausalLM",
  cohere: "CohereForCausalLM",
  cohere2: "Cohere2ForCausalLM",
  mixtral: "MixtralForCausalLM",
  qwen2_moe: "Qwen2MoeForCausalLM",
  qwen3_moe: "Qwen3MoeForCausalLM",
  gpt_oss: "GptOssForCausalLM",
};

/** What each family sets beyond the shared shape, as the tiny random models of models/random do. */
const familyFields: Record<string, Partial<ModelConfig>> = {
  mistral: { slidingWindow: 16 },
  qwen2: { attentionBias: true, rmsNormEps: 1e-6, ropeTheta: 1e6, tieWordEmbeddings: true },
  qwen3: { headDim: 32, rmsNormEps: 1e-6, ropeTheta: 1e6, tieWordEmbeddings: true },
  mixtral: { moe: { numExperts: 4, numExpertsPerTok: 2, intermediateSize: 128, normTopkProb: true } },
  qwen2_moe: { attentionBias: true, rmsNormEps: 1e-6, ropeTheta: 1e6, moe: { numExperts: 4, numExpertsPerTok: 2, intermediateSize: 64, normTopkProb: false, sharedExpertIntermediateSize: 96 } },
  qwen3_moe: { headDim: 32, rmsNormEps: 1e-6, ropeTheta: 1e6, tieWordEmbeddings: true, moe: { numExperts: 4, numExpertsPerTok: 2, intermediateSize: 64, normTopkProb: true } },
  gpt_oss: {
    headDim: 32, attentionBias: true, ropeTheta: 150000, slidingWindow: 16, layerTypes: ["sliding_attention", "full_attention"],
    ropeScaling: { ropeType: "yarn", factor: 32, originalMaxPositionEmbeddings: 4096, betaFast: 32, betaSlow: 1, attentionFactor: null, truncate: false },
    moe: { numExperts: 4, numExpertsPerTok: 2, intermediateSize: 64, normTopkProb: true, swigluLimit: 7 },
  },
  gemma: { headDim: 32, rmsNormEps: 1e-6, hiddenAct: "gelu_pytorch_tanh", tieWordEmbeddings: true },
  gemma2: {
    rmsNormEps: 1e-6, hiddenAct: "gelu_pytorch_tanh", tieWordEmbeddings: true,
    slidingWindow: 16, attnLogitSoftcapping: 3, finalLogitSoftcapping: 5, queryPreAttnScalar: 16,
  },
  olmo2: { rmsNormEps: 1e-6, ropeTheta: 500000 },
  glm4: { attentionBias: true, partialRotaryFactor: 0.5 },
  ernie4_5: { ropeTheta: 500000, tieWordEmbeddings: true, attentionBias: true },
  exaone4: { slidingWindow: 16, layerTypes: ["sliding_attention", "full_attention"] },
  cohere: { tieWordEmbeddings: true, logitScale: 1.5 },
  cohere2: {
    tieWordEmbeddings: true, logitScale: 1.5, slidingWindow: 16,
    layerTypes: ["sliding_attention", "sliding_attention", "sliding_attention", "full_attention"], numHiddenLayers: 4,
  },
  smollm3: { rmsNormEps: 1e-6, ropeTheta: 2000000, tieWordEmbeddings: true, ropeLayers: [true, false] },
  olmo3: {
    rmsNormEps: 1e-6, ropeTheta: 500000, ropeScaling: { ropeType: "linear", factor: 2 }, slidingWindow: 16, ropeLocalTheta: 500000,
    layerTypes: ["sliding_attention", "full_attention"],
  },
  granite: { rmsNormEps: 1e-5, tieWordEmbeddings: true, graniteMultipliers: { embedding: 3, residual: 0.5, attention: 1 / 16, logitsScaling: 2 } },
  gemma3: {
    headDim: 32, rmsNormEps: 1e-6, hiddenAct: "gelu_pytorch_tanh", tieWordEmbeddings: true, slidingWindow: 16, queryPreAttnScalar: 32,
    ropeTheta: 1e6, ropeScaling: { ropeType: "linear", factor: 2 }, ropeLocalTheta: 10000, layerTypes: ["sliding_attention", "full_attention"],
  },
};

export function architectureConfig(arch: string): ModelConfig {
  const architecture = archNames[arch] ?? arch;
  if (!architectures[architecture]) {
    throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `unknown architecture "${arch}"; supported: ${Object.keys(archNames).filter((a) => architectures[archNames[a]]).join(", ")}`);
  }
  return { ...base, architecture, modelType: arch, ...familyFields[arch] };
}
