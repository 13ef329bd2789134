// GGUF metadata (llama.cpp keys, "<arch>.embedding_length" etc.) -> ModelConfig, so a GGUF file and
// the HF checkpoint it came from describe the same model the same way.
import { TsvllmError } from "../errors.ts";
import { FieldReader } from "./fields.ts";
import { modelFileError } from "./file-io.ts";
import type { GgufHeader } from "./gguf-reader.ts";
import type { AttentionLayerType, GenerationConfig, GraniteMultipliers, LoadedTensor, ModelConfig, MoeConfig, RopeScaling, TensorDType } from "./types.ts";

interface GgufArchitecture {
  architecture: string;
  modelType: string;
  hiddenAct: ModelConfig["hiddenAct"];
}

export const ggufArchitectures: Record<string, GgufArchitecture> = {
  // llama.cpp converts Mistral checkpoints to "llama" too.
  llama: { architecture: "LlamaForCausalLM", modelType: "llama", hiddenAct: "silu" },
  qwen2: { architecture: "Qwen2ForCausalLM", modelType: "qwen2", hiddenAct: "silu" },
  // Qwen2-VL's and Qwen2.5-VL's language model as llama.cpp converts it, for text prompts: its M-RoPE
  // sections (rope.dimension_sections) give a text token the same position on every axis, plain RoPE.
  qwen2vl: { architecture: "Qwen2ForCausalLM", modelType: "qwen2", hiddenAct: "silu" },
  qwen2moe: { architecture: "Qwen2MoeForCausalLM", modelType: "qwen2_moe", hiddenAct: "silu" },
  qwen3: { architecture: "Qwen3ForCausalLM", modelType: "qwen3", hiddenAct: "silu" },
  qwen3moe: { architecture: "Qwen3MoeForCausalLM", modelType: "qwen3_moe", hiddenAct: "silu" },
  phi3: { architecture: "Phi3ForCausalLM", modelType: "phi3", hiddenAct: "silu" },
  gemma: { architecture: "GemmaForCausalLM", modelType: "gemma", hiddenAct: "gelu_pytorch_tanh" },
  gemma2: { architecture: "Gemma2ForCausalLM", modelType: "gemma2", hiddenAct: "gelu_pytorch_tanh" },
  gemma3: { architecture: "Gemma3ForCausalLM", modelType: "gemma3_text", hiddenAct: "gelu_pytorch_tanh" },
  granite: { architecture: "GraniteForCausalLM", modelType: "granite", hiddenAct: "silu" },
  granitemoe: { architecture: "GraniteMoeForCausalLM", modelType: "granitemoe", hiddenAct: "silu" },
  olmo2: { architecture: "Olmo2ForCausalLM", modelType: "olmo2", hiddenAct: "silu" },
  smollm3: { architecture: "SmolLM3ForCausalLM", modelType: "smollm3", hiddenAct: "silu" },
  glm4: { architecture: "Glm4ForCausalLM", modelType: "glm4", hiddenAct: "silu" },
  "command-r": { architecture: "CohereForCausalLM", modelType: "cohere", hiddenAct: "silu" },
  cohere2: { architecture: "Cohere2ForCausalLM", modelType: "cohere2", hiddenAct: "silu" },
  exaone4: { architecture: "Exaone4ForCausalLM", modelType: "exaone4", hiddenAct: "silu" },
  ernie4_5: { architecture: "Ernie4_5ForCausalLM", modelType: "ernie4_5", hiddenAct: "silu" },
  "gpt-oss": { architecture: "GptOssForCausalLM", modelType: "gpt_oss", hiddenAct: "silu" },
};

/** Cohere's LayerNorm files: their epsilon key is layer_norm_epsilon, not layer_norm_rms_epsilon. */
const layerNormArchitectures = new Set(["command-r", "cohere2"]);

const olmo3Architecture: GgufArchitecture = { architecture: "Olmo3ForCausalLM", modelType: "olmo3", hiddenAct: "silu" };

/** llama.cpp converts Mixtral to "llama" as well, telling it apart by its experts. */
const mixtral: GgufArchitecture = { architecture: "MixtralForCausalLM", modelType: "mixtral", hiddenAct: "silu" };

/**
 * The experts of a sparse file: "<arch>.expert_count" experts, of which each token runs
 * "<arch>.expert_used_count". llama.cpp's llama and granitemoe graphs size the experts by
 * feed_forward_length; qwen3moe has its own expert_feed_forward_length. The graphs renormalize the
 * chosen experts' weights (llama.cpp's src/models/llama.cpp, qwen3moe.cpp and granite.cpp call
 * build_moe_ffn with norm_w true and read no expert_weights_norm), and the converter writes that
 * key for none, so absent means true; a file that carries it is taken at its word. GraniteMoE
 * files with a shared expert (GraniteMoeShared's expert_shared_feed_forward_length) are refused.
 */
function moeOf(meta: FieldReader, arch: string): MoeConfig | undefined {
  const key = (name: string): string => `${arch}.${name}`;
  if (arch === "qwen2moe") return qwen2MoeOf(meta, key);
  if (arch === "gpt-oss") return gptOssMoeOf(meta, key);
  if (arch === "granitemoe" && meta.number(key("expert_shared_feed_forward_length"), 0) > 0) {
    throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `${meta.file}: a GraniteMoE shared expert (${key("expert_shared_feed_forward_length")}) is not supported`, key("expert_shared_feed_forward_length"));
  }
  const sparse = arch === "qwen3moe" || arch === "granitemoe" || (arch === "llama" && meta.number(key("expert_count"), 0) > 0);
  if (!sparse) return undefined;
  return {
    numExperts: meta.positiveInteger(key("expert_count")),
    numExpertsPerTok: meta.positiveInteger(key("expert_used_count")),
    intermediateSize: meta.positiveInteger(key(arch === "qwen3moe" ? "expert_feed_forward_length" : "feed_forward_length")),
    normTopkProb: meta.boolean(key("expert_weights_norm"), true),
  };
}

/**
 * gpt-oss (llama.cpp's src/models/openai-moe.cpp): its graph softmaxes the chosen experts' logits
 * (LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX_WEIGHT) and clamps its SwiGLU at 7 (ggml_swiglu_oai's
 * limit, hard-coded there as in transformers' default swiglu_limit), with biases on every expert
 * projection and the router.
 */
function gptOssMoeOf(meta: FieldReader, key: (name: string) => string): MoeConfig {
  return {
    numExperts: meta.positiveInteger(key("expert_count")),
    numExpertsPerTok: meta.positiveInteger(key("expert_used_count")),
    intermediateSize: meta.positiveInteger(key("expert_feed_forward_length")),
    normTopkProb: true,
    swigluLimit: 7,
  };
}

/**
 * qwen2moe: routed experts plus a shared expert on every layer (llama.cpp requires its tensors).
 * llama.cpp's qwen2moe graph calls build_moe_ffn with norm_w false (Qwen2-MoE's weights are the
 * router softmax's probabilities) and reads no expert_weights_norm, which the converter does not
 * write, so absent means false. Files converted before llama.cpp wrote the two widths (its PR #7835,
 * June 2024) lack them; llama.cpp then takes feed_forward_length / expert_used_count for the experts
 * and feed_forward_length for the shared expert (Qwen1.5-MoE-A2.7B's 5632 / 4 and 5632), as here.
 */
function qwen2MoeOf(meta: FieldReader, key: (name: string) => string): MoeConfig {
  const numExpertsPerTok = meta.positiveInteger(key("expert_used_count"));
  const feedForward = meta.positiveInteger(key("feed_forward_length"));
  const width = (name: string, fallback: number) => meta.nonNegativeInteger(key(name), 0) || fallback;
  return {
    numExperts: meta.positiveInteger(key("expert_count")),
    numExpertsPerTok,
    intermediateSize: width("expert_feed_forward_length", Math.floor(feedForward / numExpertsPerTok)),
    normTopkProb: meta.boolean(key("expert_weights_norm"), false),
    sharedExpertIntermediateSize: width("expert_shared_feed_forward_length", feedForward),
  };
}

export function ggufArchitecture(header: GgufHeader): string {
  const arch = new FieldReader((key) => header.metadata.get(key), header.path).string("general.architecture");
  if (!(arch in ggufArchitectures)) {
    throw new TsvllmError(
      "TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE",
      `${header.path}: general.architecture "${arch}" is not supported (${Object.keys(ggufArchitectures).join(", ")})`,
      "general.architecture",
    );
  }
  return arch;
}

// Llama-3.x GGUFs carry their RoPE scaling as a per-frequency divisor tensor (rope_freqs.weight)
// instead of parameters. Every Llama-3.x release uses low/high frequency factors 1 and 4 over an
// original 8192 context, so those parameters are recomputed and must reproduce the tensor exactly.
const llama3Release = { lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };

function llama3Divisors(factor: number, ropeTheta: number, rotaryDim: number): number[] {
  const { lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: context } = llama3Release;
  const divisors: number[] = [];
  for (let i = 0; i < rotaryDim; i += 2) {
    const wavelength = 2 * Math.PI * ropeTheta ** (i / rotaryDim);
    if (wavelength < context / highFreqFactor) divisors.push(1);
    else if (wavelength > context / lowFreqFactor) divisors.push(factor);
    else {
      const smooth = (context / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      divisors.push(1 / ((1 - smooth) / factor + smooth));
    }
  }
  return divisors;
}

function ropeScalingFromFreqs(ropeFreqs: Float32Array, ropeTheta: number, rotaryDim: number, file: string): RopeScaling {
  const factor = Math.max(...ropeFreqs);
  const expected = llama3Divisors(factor, ropeTheta, rotaryDim);
  const matches = expected.length === ropeFreqs.length && expected.every((value, i) => Math.abs(value - ropeFreqs[i]) <= 1e-6 * value);
  if (!matches) {
    throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `${file}: rope_freqs.weight is not Llama-3 RoPE scaling; load the Hugging Face checkpoint instead`, "rope_freqs.weight");
  }
  return { ropeType: "llama3", factor, ...llama3Release };
}

/** RoPE scaling stored as tensors (f32 values), by what they are. */
export interface RopeTensors {
  /** rope_freqs.weight: Llama-3's per-frequency divisors. */
  freqs?: Float32Array;
  /** rope_factors_long/short.weight: Phi-3's LongRoPE factors. */
  longFactors?: Float32Array;
  shortFactors?: Float32Array;
}

/**
 * Phi-3's LongRoPE as Phi3MiniModel converts it: the factors as tensors, the original context and
 * the attention factor as keys. llama.cpp takes the long factors when its context exceeds the
 * original one, as the engine does by max_model_len.
 */
function longRopeFromTensors(meta: FieldReader, arch: string, tensors: RopeTensors, file: string): RopeScaling {
  const { longFactors, shortFactors } = tensors;
  if (!longFactors || !shortFactors) throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${file}: LongRoPE needs both rope_factors_long.weight and rope_factors_short.weight`, longFactors ? "rope_factors_short.weight" : "rope_factors_long.weight");
  return {
    ropeType: "longrope",
    longFactor: Array.from(longFactors),
    shortFactor: Array.from(shortFactors),
    originalMaxPositionEmbeddings: meta.positiveInteger(`${arch}.rope.scaling.original_context_length`),
    attentionFactor: meta.number(`${arch}.rope.scaling.attn_factor`, 1),
  };
}

function ropeScalingOf(meta: FieldReader, arch: string, tensors: RopeTensors, shape: { ropeTheta: number; rotaryDim: number; maxPositionEmbeddings: number }, file: string): RopeScaling | null {
  if (tensors.freqs) return ropeScalingFromFreqs(tensors.freqs, shape.ropeTheta, shape.rotaryDim, file);
  if (tensors.longFactors || tensors.shortFactors) return longRopeFromTensors(meta, arch, tensors, file);
  return ropeScaling(meta, arch, shape.maxPositionEmbeddings);
}

function ropeScaling(meta: FieldReader, arch: string, maxPositionEmbeddings: number): RopeScaling | null {
  const type = meta.string(`${arch}.rope.scaling.type`, "none");
  const factor = meta.number(`${arch}.rope.scaling.factor`, 1);
  const original = meta.positiveInteger(`${arch}.rope.scaling.original_context_length`, maxPositionEmbeddings);
  switch (type) {
    case "none":
      return null;
    case "linear":
      return { ropeType: "linear", factor };
    case "yarn":
      // Betas 32 and 1, as ggml's. ggml rounds the correction range to whole dims (ggml_rope_yarn_corr_dims)
      // for every model, as transformers does by default; GPT-OSS's own YaRN (OpenAI's reference code,
      // its configs' truncate false) does not, and the model is run as trained.
      return { ropeType: "yarn", factor, originalMaxPositionEmbeddings: original, betaFast: 32, betaSlow: 1, attentionFactor: null, truncate: arch !== "gpt-oss" };
    default:
      throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `${meta.file}: ${arch}.rope.scaling.type "${type}" is not supported`, `${arch}.rope.scaling.type`);
  }
}

/**
 * Sliding and global layers (Gemma-3, OLMo 3), as llama.cpp's graphs read them: with a sliding
 * window, layer i slides unless i % pattern is pattern - 1 (attention.sliding_window_pattern, else
 * the family's period), and rotates by rope.freq_base_swa (else the family's local base) unscaled;
 * without one every layer is global. OLMo 3's converter writes the pattern as one flag per layer
 * (from layer_types), which llama.cpp's olmo2 graph ignores for its period of 4; it is taken as
 * written here, as transformers takes layer_types. Cohere2's sliding layers rotate by rope.freq_base
 * (llama.cpp's cohere2 graph reads no other), its global ones not at all: a localTheta of null.
 */
function hybridLayers(meta: FieldReader, arch: string, numHiddenLayers: number, defaults: { period: number; localTheta: number | null }): Partial<ModelConfig> {
  const key = (name: string): string => `${arch}.${name}`;
  const slidingWindow = meta.optionalNumber(key("attention.sliding_window"));
  if (!slidingWindow) return { slidingWindow: null };
  const flags = meta.booleanList(key("attention.sliding_window_pattern"));
  if (flags !== null && flags.length !== numHiddenLayers) throw modelFileError(meta.file, `${key("attention.sliding_window_pattern")} has ${flags.length} flags for ${numHiddenLayers} layers`, key("attention.sliding_window_pattern"));
  const period = flags === null ? meta.positiveInteger(key("attention.sliding_window_pattern"), defaults.period) : 0;
  const layerTypes = Array.from({ length: numHiddenLayers }, (_, layer): AttentionLayerType =>
    (flags === null ? layer % period < period - 1 : flags[layer]) ? "sliding_attention" : "full_attention",
  );
  if (defaults.localTheta === null) return { slidingWindow, layerTypes };
  return { slidingWindow, layerTypes, ropeLocalTheta: meta.number(key("rope.freq_base_swa"), defaults.localTheta) };
}

/** Gemma-3 (llama.cpp's src/models/gemma3.cpp): a period of 6, local base 10000; attention scaled by 1/sqrt(head_dim), 1/sqrt(hidden/heads) for the 62-layer 27B. */
function gemma3Layers(meta: FieldReader, arch: string, shape: { numHiddenLayers: number; hiddenSize: number; numAttentionHeads: number; headDim: number }): Partial<ModelConfig> {
  const queryPreAttnScalar = shape.numHiddenLayers === 62 ? shape.hiddenSize / shape.numAttentionHeads : shape.headDim;
  return {
    finalLogitSoftcapping: meta.optionalNumber(`${arch}.final_logit_softcapping`),
    attnLogitSoftcapping: null,
    queryPreAttnScalar,
    ...hybridLayers(meta, arch, shape.numHiddenLayers, { period: 6, localTheta: 10000 }),
  };
}

/**
 * Granite's multipliers as llama.cpp's granite graph reads them (src/models/granite.cpp): the
 * converter renames them *_scale; an absent attention scale is 1/sqrt(head_dim) there, and absent
 * (or 0) embedding and residual scales are none.
 */
function graniteMultipliersOf(meta: FieldReader, arch: string, headDim: number): GraniteMultipliers {
  const key = (name: string): string => `${arch}.${name}`;
  const orOne = (value: number) => (value === 0 ? 1 : value);
  return {
    embedding: orOne(meta.number(key("embedding_scale"), 1)),
    residual: orOne(meta.number(key("residual_scale"), 1)),
    attention: orOne(meta.number(key("attention.scale"), headDim ** -0.5)),
    logitsScaling: meta.number(key("logit_scale")),
  };
}

function checkpointDtype(tensors: ReadonlyMap<string, LoadedTensor>): ModelConfig["torchDtype"] {
  const dtypes = new Set([...tensors.values()].map((tensor) => tensor.dtype));
  if (dtypes.has("bf16")) return "bfloat16";
  // Blocks of 4 to 8 bits widen into f16 without loss worth the f32 memory (a 7B Q4_K_M file would need 28 GB).
  const halfOrNarrower: TensorDType[] = ["f16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs", "mxfp4"];
  if (halfOrNarrower.some((dtype) => dtypes.has(dtype))) return "float16";
  return "float32";
}

/**
 * The model config of a GGUF file. `tensors` are the already loaded (HF-named) tensors: the vocabulary
 * size, biases and tied embeddings are read from what the file holds.
 */
export function ggufModelConfig(
  header: GgufHeader,
  tensors: ReadonlyMap<string, LoadedTensor>,
  ropeTensors: RopeTensors,
): { config: ModelConfig; generationConfig: GenerationConfig } {
  const arch = ggufArchitecture(header);
  const meta = new FieldReader((key) => header.metadata.get(key), header.path);
  const moe = moeOf(meta, arch);
  // OLMo 3 converts to olmo2 too, told apart by its sliding window.
  const olmo3 = arch === "olmo2" && meta.has(`${arch}.attention.sliding_window`);
  const family = moe && arch === "llama" ? mixtral : olmo3 ? olmo3Architecture : ggufArchitectures[arch];
  const key = (name: string): string => `${arch}.${name}`;
  const hiddenSize = meta.positiveInteger(key("embedding_length"));
  const numAttentionHeads = meta.positiveInteger(key("attention.head_count"));
  const numHiddenLayers = meta.positiveInteger(key("block_count"));
  const headDim = meta.positiveInteger(key("attention.key_length"), hiddenSize / numAttentionHeads);
  const maxPositionEmbeddings = meta.positiveInteger(key("context_length"));
  const ropeTheta = meta.number(key("rope.freq_base"), 10000);
  const rotaryDim = meta.positiveInteger(key("rope.dimension_count"), headDim);
  const tokens = header.metadata.get("tokenizer.ggml.tokens");
  const embedding = tensors.get("model.embed_tokens.weight");
  const vocabSize = meta.positiveInteger(key("vocab_size"), Array.isArray(tokens) ? tokens.length : embedding?.shape[0]);
  const isGemma2 = arch === "gemma2";
  const eosTokenIds = [...meta.idList("tokenizer.ggml.eos_token_id"), ...meta.idList("tokenizer.ggml.eot_token_id")];
  const config: ModelConfig = {
    architecture: family.architecture,
    modelType: family.modelType,
    hiddenSize,
    intermediateSize: meta.positiveInteger(key("feed_forward_length")),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads: meta.positiveInteger(key("attention.head_count_kv"), numAttentionHeads),
    headDim,
    vocabSize,
    maxPositionEmbeddings,
    rmsNormEps: meta.number(key(layerNormArchitectures.has(arch) ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon")),
    ropeTheta,
    ropeScaling: ropeScalingOf(meta, arch, ropeTensors, { ropeTheta, rotaryDim, maxPositionEmbeddings }, header.path),
    partialRotaryFactor: rotaryDim / headDim,
    tieWordEmbeddings: !tensors.has("lm_head.weight"),
    hiddenAct: family.hiddenAct,
    attentionBias: tensors.has("model.layers.0.self_attn.q_proj.bias") || tensors.has("model.layers.0.self_attn.qkv_proj.bias"),
    slidingWindow: meta.optionalNumber(key("attention.sliding_window")) ?? (isGemma2 ? 4096 : null),
    finalLogitSoftcapping: isGemma2 ? meta.number(key("final_logit_softcapping"), 30) : null,
    attnLogitSoftcapping: isGemma2 ? meta.number(key("attn_logit_softcapping"), 50) : null,
    // GGUF does not store query_pre_attn_scalar; llama.cpp derives it the same way: Gemma-2 27B
    // (46 layers) scales by hidden/heads, the smaller models by head_dim.
    queryPreAttnScalar: isGemma2 ? (numHiddenLayers === 46 ? hiddenSize / numAttentionHeads : headDim) : null,
    bosTokenId: meta.optionalId("tokenizer.ggml.bos_token_id"),
    eosTokenIds: [...new Set(eosTokenIds)],
    torchDtype: checkpointDtype(tensors),
    ...(moe ? { moe } : {}),
    ...(arch === "granite" || arch === "granitemoe" ? { graniteMultipliers: graniteMultipliersOf(meta, arch, headDim) } : {}),
    ...(arch === "gemma3" ? gemma3Layers(meta, arch, { numHiddenLayers, hiddenSize, numAttentionHeads, headDim }) : {}),
    // llama.cpp's smollm3 graph skips RoPE on every fourth layer; GGUF has no key for it.
    ...(arch === "smollm3" ? { ropeLayers: Array.from({ length: numHiddenLayers }, (_, layer) => (layer + 1) % 4 !== 0) } : {}),
    ...(layerNormArchitectures.has(arch) ? { logitScale: meta.number(key("logit_scale"), 1) } : {}),
    // Cohere2 slides three layers of every four (llama.cpp's period; its files carry no pattern);
    // EXAONE 4's converter writes a sliding flag per layer, taken as written. Neither has a local table.
    ...(arch === "cohere2" || arch === "exaone4" ? hybridLayers(meta, arch, numHiddenLayers, { period: 4, localTheta: null }) : {}),
    // gpt-oss slides every other layer from layer 0 (llama.cpp's period 2), all on one RoPE table.
    ...(arch === "gpt-oss" ? hybridLayers(meta, arch, numHiddenLayers, { period: 2, localTheta: null }) : {}),
    // OLMo 3's sliding layers rotate by rope_theta itself, unscaled.
    ...(olmo3 ? hybridLayers(meta, arch, numHiddenLayers, { period: 4, localTheta: ropeTheta }) : {}),
  };
  return { config, generationConfig: { bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds } };
}
