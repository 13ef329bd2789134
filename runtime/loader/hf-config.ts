// config.json (+ generation_config.json) -> ModelConfig. Each supported family states the defaults
// transformers uses when a key is absent, so a sparse config.json means what it means in transformers.
import { join } from "node:path";
import { TsvllmError } from "../errors.ts";
import { FieldReader } from "./fields.ts";
import { languageModelConfig } from "./language-model.ts";
import { modelFileError, readJsonFile, readOptionalJsonFile } from "./file-io.ts";
import { quantizationOf } from "./quantization-config.ts";
import type { AttentionLayerType, GenerationConfig, GraniteMultipliers, ModelConfig, MoeConfig, RopeScaling } from "./types.ts";

interface FamilyDefaults {
  architecture: string;
  rmsNormEps: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Qwen2 always has q/k/v biases (not a config option); others read `attention_bias`. */
  forcedAttentionBias?: boolean;
  /** Qwen2-MoE's q/k/v biases, on unless newer configs switch them off with `qkv_bias` false. */
  qkvBiasSwitch?: boolean;
  /** Gemma reads `hidden_activation` and defaults to the tanh approximation of GELU. */
  gemmaActivation?: boolean;
  /** Families whose sliding window is on only when `use_sliding_window` is true. */
  slidingWindowSwitch?: boolean;
  defaultSlidingWindow?: number;
  softcapping?: { finalLogit: number | null; attnLogit: number | null; queryPreAttnScalar: number };
  /** rope_theta when absent (transformers' default for the family), 10000 unless set. */
  ropeTheta?: number;
  /**
   * Gemma-3, OLMo 3: sliding and global layers (layer_types, else every sliding_window_pattern-th
   * layer global), the sliding ones on an unscaled RoPE table (rope_local_base_freq, else rope_theta).
   */
  hybridAttention?: {
    slidingWindowPattern: number;
    ropeLocalTheta?: number;
    /** Cohere2, EXAONE 4: the sliding layers rotate by the global table (their global layers have none). */
    sharedRope?: boolean;
    /** EXAONE 4: a config whose sliding_window is null (the 1.2B) has no sliding layers at all. */
    slidingNeedsWindow?: boolean;
  };
  /** transformers' config class defaults for keys the family's configs may leave out. */
  configDefaults?: Readonly<Record<string, unknown>>;
  /** Granite's four multipliers (GraniteConfig: each 1.0 when absent). */
  graniteMultipliers?: boolean;
  /** attention_bias when absent (GLM-4's is true); false unless set. */
  defaultAttentionBias?: boolean;
  /** The key that switches the attention biases when it is not attention_bias (ERNIE 4.5's use_bias). */
  attentionBiasKey?: string;
  /** partial_rotary_factor when absent (GLM-4 rotates half of each head); 1 unless set. */
  partialRotaryFactor?: number;
  /** SmolLM3's NoPE layers: no_rope_layers, else every no_rope_layer_interval-th layer. */
  noRopeLayerInterval?: number;
  /** Cohere's LayerNorm families: their epsilon is layer_norm_eps, and their logits are scaled by logit_scale (this when absent). */
  layerNorm?: { logitScale: number };
  /** Sparse mixture-of-experts families: their experts, with transformers' defaults. */
  moe?: (fields: FieldReader) => MoeConfig;
  /** The shared-expert key the family's `moe` reads (Qwen2-MoE's); every other one is refused. */
  sharedExpertKey?: string;
}

const unsupportedMoe = (fields: FieldReader, key: string, what: string) =>
  new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `${fields.file}: ${what}`, key);

/**
 * Mixtral (MixtralConfig) and GraniteMoE (GraniteMoeConfig, whose router softmaxes its top-k logits,
 * the same weights): every layer sparse, experts as wide as intermediate_size, routing weights
 * always renormalized.
 */
function mixtralMoe(fields: FieldReader): MoeConfig {
  return {
    numExperts: fields.positiveInteger("num_local_experts", 8),
    numExpertsPerTok: fields.positiveInteger("num_experts_per_tok", 2),
    intermediateSize: fields.positiveInteger("intermediate_size"),
    normTopkProb: true,
  };
}

/**
 * The routed experts of Qwen2-MoE and Qwen3-MoE (Qwen2MoeConfig, Qwen3MoeConfig: the same keys, their
 * own defaults). Their configs can leave some layers dense (a decoder_sparse_step above 1, or
 * mlp_only_layers), an MLP of intermediate_size among the sparse ones, which the engine does not run.
 */
function qwenRoutedExperts(fields: FieldReader, defaults: Omit<MoeConfig, "normTopkProb">): MoeConfig {
  const step = fields.positiveInteger("decoder_sparse_step", 1);
  if (step !== 1) throw unsupportedMoe(fields, "decoder_sparse_step", `decoder_sparse_step ${step} makes some layers dense; mixing dense and sparse layers is not supported`);
  const denseLayers = fields.indexList("mlp_only_layers");
  if (denseLayers.length > 0) throw unsupportedMoe(fields, "mlp_only_layers", `mlp_only_layers [${denseLayers.join(", ")}] makes those layers dense; mixing dense and sparse layers is not supported`);
  return {
    numExperts: fields.positiveInteger("num_experts", defaults.numExperts),
    numExpertsPerTok: fields.positiveInteger("num_experts_per_tok", defaults.numExpertsPerTok),
    intermediateSize: fields.positiveInteger("moe_intermediate_size", defaults.intermediateSize),
    normTopkProb: fields.boolean("norm_topk_prob", false),
  };
}

const qwen3Moe = (fields: FieldReader): MoeConfig => qwenRoutedExperts(fields, { numExperts: 128, numExpertsPerTok: 8, intermediateSize: 768 });

/**
 * GPT-OSS (GptOssConfig): every layer sparse, experts intermediate_size wide, the router's top-k
 * logits softmaxed (renormalized weights), biases everywhere and the SwiGLU clamped at swiglu_limit.
 * OpenAI's own config.json names the top-k experts_per_token beside num_experts_per_tok.
 */
function gptOssMoe(fields: FieldReader): MoeConfig {
  return {
    numExperts: fields.positiveInteger("num_local_experts", 128),
    numExpertsPerTok: fields.positiveInteger(fields.has("num_experts_per_tok") ? "num_experts_per_tok" : "experts_per_token", 4),
    intermediateSize: fields.positiveInteger("intermediate_size", 2880),
    normTopkProb: true,
    swigluLimit: fields.number("swiglu_limit", 7),
  };
}

/**
 * Qwen2-MoE adds a shared expert to every sparse layer, shared_expert_intermediate_size wide (0 for
 * none, which transformers would build as an empty MLP that adds nothing).
 */
function qwen2Moe(fields: FieldReader): MoeConfig {
  const routed = qwenRoutedExperts(fields, { numExperts: 60, numExpertsPerTok: 4, intermediateSize: 1408 });
  const shared = fields.nonNegativeInteger("shared_expert_intermediate_size", 5632);
  return shared > 0 ? { ...routed, sharedExpertIntermediateSize: shared } : routed;
}

/** Shared experts (Qwen2-MoE's, DeepSeek's) run beside the routed ones on every token; only Qwen2-MoE's are run. */
const sharedExpertKeys = ["shared_expert_intermediate_size", "n_shared_experts", "num_shared_experts"];

function moeOf(fields: FieldReader, family: FamilyDefaults): Pick<ModelConfig, "moe"> {
  if (!family.moe) return {};
  for (const key of sharedExpertKeys.filter((k) => k !== family.sharedExpertKey)) {
    const size = fields.number(key, 0);
    if (size > 0) throw unsupportedMoe(fields, key, `${key} ${size}: shared experts are not supported`);
  }
  return { moe: family.moe(fields) };
}

const families: Record<string, FamilyDefaults> = {
  llama: { architecture: "LlamaForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 2048, tieWordEmbeddings: false },
  mistral: { architecture: "MistralForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 131072, tieWordEmbeddings: false },
  mixtral: { architecture: "MixtralForCausalLM", rmsNormEps: 1e-5, maxPositionEmbeddings: 4096 * 32, tieWordEmbeddings: false, moe: mixtralMoe },
  qwen2: {
    architecture: "Qwen2ForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 32768, tieWordEmbeddings: false,
    forcedAttentionBias: true, slidingWindowSwitch: true,
  },
  qwen2_moe: {
    architecture: "Qwen2MoeForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 32768, tieWordEmbeddings: false,
    qkvBiasSwitch: true, slidingWindowSwitch: true, moe: qwen2Moe, sharedExpertKey: "shared_expert_intermediate_size",
  },
  qwen3: {
    architecture: "Qwen3ForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 32768, tieWordEmbeddings: false,
    slidingWindowSwitch: true,
  },
  qwen3_moe: {
    architecture: "Qwen3MoeForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 32768, tieWordEmbeddings: false,
    slidingWindowSwitch: true, moe: qwen3Moe,
  },
  granite: { architecture: "GraniteForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 2048, tieWordEmbeddings: false, graniteMultipliers: true },
  // GraniteMoeConfig: Granite's multipliers, every layer sparse with experts intermediate_size wide.
  granitemoe: { architecture: "GraniteMoeForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 2048, tieWordEmbeddings: false, graniteMultipliers: true, moe: mixtralMoe },
  // GptOssConfig: biases on q/k/v/o, layers alternating a 128-token window (from layer 0) with global
  // attention, both on the same (YaRN-scaled) RoPE table.
  gpt_oss: {
    architecture: "GptOssForCausalLM", rmsNormEps: 1e-5, maxPositionEmbeddings: 131072, tieWordEmbeddings: false, defaultAttentionBias: true, ropeTheta: 150000,
    defaultSlidingWindow: 128, hybridAttention: { slidingWindowPattern: 2, sharedRope: true }, moe: gptOssMoe,
  },
  // Glm4Config: q/k/v biases on (attention_bias true), half of each head rotated.
  glm4: { architecture: "Glm4ForCausalLM", rmsNormEps: 1.5625e-7, maxPositionEmbeddings: 131072, tieWordEmbeddings: false, defaultAttentionBias: true, partialRotaryFactor: 0.5 },
  smollm3: {
    architecture: "SmolLM3ForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 32768, tieWordEmbeddings: true, ropeTheta: 2000000,
    slidingWindowSwitch: true, noRopeLayerInterval: 4,
  },
  olmo2: { architecture: "Olmo2ForCausalLM", rmsNormEps: 1e-5, maxPositionEmbeddings: 2048, tieWordEmbeddings: false },
  // Olmo3Config: every fourth layer global; the sliding ones rotate by rope_theta, unscaled.
  olmo3: {
    architecture: "Olmo3ForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 2048, tieWordEmbeddings: false,
    defaultSlidingWindow: 4096, hybridAttention: { slidingWindowPattern: 4 },
  },
  // CohereConfig and Cohere2Config (Command R7B: three sliding layers to each global one).
  cohere: { architecture: "CohereForCausalLM", rmsNormEps: 1e-5, maxPositionEmbeddings: 8192, tieWordEmbeddings: true, layerNorm: { logitScale: 0.0625 } },
  cohere2: {
    architecture: "Cohere2ForCausalLM", rmsNormEps: 1e-5, maxPositionEmbeddings: 8192, tieWordEmbeddings: true, layerNorm: { logitScale: 0.0625 },
    defaultSlidingWindow: 4096, hybridAttention: { slidingWindowPattern: 4, sharedRope: true },
  },
  // Ernie4_5Config (the dense models): tied embeddings, use_bias for all four projections.
  ernie4_5: { architecture: "Ernie4_5ForCausalLM", rmsNormEps: 1e-5, maxPositionEmbeddings: 131072, tieWordEmbeddings: true, ropeTheta: 500000, attentionBiasKey: "use_bias" },
  // Exaone4Config: three sliding layers to each global one, unless sliding_window is null.
  exaone4: {
    architecture: "Exaone4ForCausalLM", rmsNormEps: 1e-5, maxPositionEmbeddings: 2048, tieWordEmbeddings: false,
    defaultSlidingWindow: 4096, hybridAttention: { slidingWindowPattern: 4, sharedRope: true, slidingNeedsWindow: true },
  },
  phi3: { architecture: "Phi3ForCausalLM", rmsNormEps: 1e-5, maxPositionEmbeddings: 4096, tieWordEmbeddings: false },
  gemma: { architecture: "GemmaForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 8192, tieWordEmbeddings: true, gemmaActivation: true },
  gemma2: {
    architecture: "Gemma2ForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 8192, tieWordEmbeddings: true, gemmaActivation: true,
    defaultSlidingWindow: 4096, softcapping: { finalLogit: 30, attnLogit: 50, queryPreAttnScalar: 256 },
  },
  // Gemma3TextConfig (Gemma3ForCausalLM; the 1B release and the text part of the larger ones).
  gemma3_text: {
    architecture: "Gemma3ForCausalLM", rmsNormEps: 1e-6, maxPositionEmbeddings: 131072, tieWordEmbeddings: true, gemmaActivation: true,
    defaultSlidingWindow: 4096, softcapping: { finalLogit: null, attnLogit: null, queryPreAttnScalar: 256 }, ropeTheta: 1e6,
    hybridAttention: { slidingWindowPattern: 6, ropeLocalTheta: 10000 },
    configDefaults: { vocab_size: 262208, hidden_size: 2304, intermediate_size: 9216, num_hidden_layers: 26, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 256 },
  },
};

export const supportedModelTypes: readonly string[] = Object.keys(families);

type HiddenAct = ModelConfig["hiddenAct"];

// gelu_new is the same tanh approximation as gelu_pytorch_tanh.
const activations: Record<string, HiddenAct> = {
  silu: "silu", swish: "silu", gelu: "gelu", gelu_pytorch_tanh: "gelu_pytorch_tanh", gelu_new: "gelu_pytorch_tanh",
};

function activation(fields: FieldReader, family: FamilyDefaults): HiddenAct {
  // transformers' Gemma ignores hidden_act (early Gemma configs say "gelu") and uses
  // hidden_activation, defaulting to the tanh approximation the models were trained with.
  const name = family.gemmaActivation ? fields.string("hidden_activation", "gelu_pytorch_tanh") : fields.string("hidden_act", "silu");
  const act = activations[name];
  if (!act) {
    throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `${fields.file}: activation "${name}" is not supported (${Object.keys(activations).join(", ")})`, "hidden_act");
  }
  return act;
}

const dtypes: Record<string, ModelConfig["torchDtype"]> = {
  float32: "float32", float: "float32", float16: "float16", half: "float16", bfloat16: "bfloat16",
};

function torchDtype(fields: FieldReader): ModelConfig["torchDtype"] {
  // transformers >= 4.56 writes "dtype"; older versions "torch_dtype". Absent means float32, as in transformers.
  const key = fields.has("dtype") ? "dtype" : "torch_dtype";
  const name = fields.string(key, "float32");
  const dtype = dtypes[name];
  if (!dtype) throw modelFileError(fields.file, `field "${key}" is "${name}"; expected float32, float16 or bfloat16`, key);
  return dtype;
}

/**
 * LongRoPE as transformers computes it: with a top-level original_max_position_embeddings (Phi-3's
 * configs) the context grew by max / original, else by the scaling's `factor` over
 * max_position_embeddings; the attention factor defaults from that growth.
 */
function longRope(rope: FieldReader, maxPositionEmbeddings: number, topLevelOriginal: number | null): RopeScaling {
  const original = topLevelOriginal ?? rope.positiveInteger("original_max_position_embeddings", maxPositionEmbeddings);
  const growth = topLevelOriginal !== null ? maxPositionEmbeddings / topLevelOriginal : rope.number("factor", 1);
  const attentionFactor = rope.optionalNumber("attention_factor") ?? (growth <= 1 ? 1 : Math.sqrt(1 + Math.log(growth) / Math.log(original)));
  return { ropeType: "longrope", shortFactor: rope.numberList("short_factor"), longFactor: rope.numberList("long_factor"), originalMaxPositionEmbeddings: original, attentionFactor };
}

/** Parses `rope_scaling` (or transformers v5 `rope_parameters`); "default" scaling is none. */
export function parseRopeScaling(rope: FieldReader | null, maxPositionEmbeddings: number, topLevelOriginal: number | null = null): RopeScaling | null {
  if (!rope) return null;
  const ropeType = rope.has("rope_type") ? rope.string("rope_type") : rope.string("type", "default");
  const original = (): number => rope.positiveInteger("original_max_position_embeddings", maxPositionEmbeddings);
  switch (ropeType) {
    case "default":
      return null;
    case "linear":
      return { ropeType, factor: rope.number("factor") };
    case "dynamic":
      return { ropeType, factor: rope.number("factor"), originalMaxPositionEmbeddings: original() };
    case "llama3":
      return {
        ropeType, factor: rope.number("factor"), lowFreqFactor: rope.number("low_freq_factor"),
        highFreqFactor: rope.number("high_freq_factor"), originalMaxPositionEmbeddings: rope.positiveInteger("original_max_position_embeddings"),
      };
    case "yarn":
      return {
        ropeType, factor: rope.number("factor"), originalMaxPositionEmbeddings: original(),
        betaFast: rope.number("beta_fast", 32), betaSlow: rope.number("beta_slow", 1), attentionFactor: rope.optionalNumber("attention_factor"), truncate: rope.boolean("truncate", true),
      };
    // "su" is LongRoPE's name in the first Phi-3 128k configs.
    case "longrope":
    case "su":
      return longRope(rope, maxPositionEmbeddings, topLevelOriginal);
    default:
      throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `${rope.file}: rope scaling type "${ropeType}" is not supported (linear, dynamic, llama3, yarn, longrope)`, "rope_scaling");
  }
}

function attentionBias(fields: FieldReader, family: FamilyDefaults): boolean {
  if (family.forcedAttentionBias) return true;
  return family.qkvBiasSwitch ? fields.boolean("qkv_bias", true) : fields.boolean(family.attentionBiasKey ?? "attention_bias", family.defaultAttentionBias ?? false);
}

function slidingWindow(fields: FieldReader, family: FamilyDefaults): number | null {
  // Any config may switch the window off with use_sliding_window false; Qwen's is off unless it is true.
  if (!fields.boolean("use_sliding_window", !family.slidingWindowSwitch)) return null;
  return fields.nullableNumber("sliding_window", family.defaultSlidingWindow ?? null);
}

function graniteMultipliersOf(fields: FieldReader): GraniteMultipliers {
  return {
    embedding: fields.number("embedding_multiplier", 1),
    residual: fields.number("residual_multiplier", 1),
    attention: fields.number("attention_multiplier", 1),
    logitsScaling: fields.number("logits_scaling", 1),
  };
}

/** CohereConfig's logit_scale; Command R+'s per-head q/k LayerNorms (use_qk_norm) are not built. */
function cohereFields(fields: FieldReader, defaultLogitScale: number): Pick<ModelConfig, "logitScale"> {
  if (fields.boolean("use_qk_norm", false)) throw new TsvllmError("TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE", `${fields.file}: use_qk_norm (Command R+'s per-head q/k LayerNorms) is not supported`, "use_qk_norm");
  return { logitScale: fields.number("logit_scale", defaultLogitScale) };
}

/** SmolLM3Config: no_rope_layers (1: the layer uses RoPE), else every interval-th layer without it. */
function ropeLayersOf(fields: FieldReader, numHiddenLayers: number, defaultInterval: number): boolean[] {
  const listed = fields.indexList("no_rope_layers");
  if (listed.length === 0) {
    const interval = fields.positiveInteger("no_rope_layer_interval", defaultInterval);
    return Array.from({ length: numHiddenLayers }, (_, layer) => (layer + 1) % interval !== 0);
  }
  if (listed.length !== numHiddenLayers || listed.some((v) => v > 1)) throw modelFileError(fields.file, `field "no_rope_layers" should hold a 0 or 1 for each of the ${numHiddenLayers} layers`, "no_rope_layers");
  return listed.map((v) => v === 1);
}

const attentionLayerTypes: readonly AttentionLayerType[] = ["sliding_attention", "full_attention"];

/**
 * layer_types when a config has none: every sliding_window_pattern-th layer global, or the pattern
 * as letters repeated over the layers (EXAONE 4's "LLLG": L slides, G attends globally).
 */
function patternLayerTypes(fields: FieldReader, defaultPattern: number, numHiddenLayers: number): AttentionLayerType[] {
  const key = "sliding_window_pattern";
  let isGlobal = (layer: number) => (layer + 1) % fields.positiveInteger(key, defaultPattern) === 0;
  if (fields.isString(key)) {
    const letters = fields.string(key);
    if (!/^[LG]+$/.test(letters)) throw modelFileError(fields.file, `field "${key}" should be a number or a string of L and G, found "${letters}"`, key);
    isGlobal = (layer) => letters[layer % letters.length] === "G";
  }
  return Array.from({ length: numHiddenLayers }, (_, layer): AttentionLayerType => (isGlobal(layer) ? "full_attention" : "sliding_attention"));
}

/**
 * RoPE and attention per layer. transformers v5 nests rope_parameters by layer type for Gemma-3
 * ({"full_attention": {...}, "sliding_attention": {...}}); older configs have rope_theta,
 * rope_scaling and rope_local_base_freq at the top.
 */
function ropeAndLayers(fields: FieldReader, family: FamilyDefaults, numHiddenLayers: number, maxPositionEmbeddings: number, window: number | null): Pick<ModelConfig, "ropeTheta" | "ropeScaling" | "layerTypes" | "ropeLocalTheta"> {
  const parameters = fields.record("rope_parameters");
  const hybrid = family.hybridAttention;
  const byLayerType = hybrid !== undefined && parameters?.has("full_attention") === true;
  const global = byLayerType ? parameters!.record("full_attention") : parameters;
  const defaultTheta = family.ropeTheta ?? 10000;
  const rope = {
    ropeTheta: global?.has("rope_theta") ? global.number("rope_theta") : fields.number("rope_theta", defaultTheta),
    ropeScaling: parseRopeScaling(fields.record("rope_scaling") ?? global, maxPositionEmbeddings, fields.optionalNumber("original_max_position_embeddings")),
  };
  if (!hybrid) return rope;
  const local = byLayerType ? parameters!.record("sliding_attention") : null;
  const layerTypes = hybrid.slidingNeedsWindow && window === null
    ? new Array<AttentionLayerType>(numHiddenLayers).fill("full_attention")
    : (fields.choiceList("layer_types", attentionLayerTypes) ?? patternLayerTypes(fields, hybrid.slidingWindowPattern, numHiddenLayers));
  if (layerTypes.length !== numHiddenLayers) throw modelFileError(fields.file, `field "layer_types" has ${layerTypes.length} entries for ${numHiddenLayers} layers`, "layer_types");
  if (hybrid.sharedRope) return { ...rope, layerTypes };
  const localDefault = hybrid.ropeLocalTheta ?? rope.ropeTheta;
  const ropeLocalTheta = local ? local.number("rope_theta", localDefault) : fields.number("rope_local_base_freq", localDefault);
  return { ...rope, layerTypes, ropeLocalTheta };
}

/** Optional sampling defaults and stop ids; eos/bos fall back to config.json's. */
export function parseGenerationConfig(generation: FieldReader | null, config: ModelConfig): GenerationConfig {
  if (!generation) return { bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds };
  const eosTokenIds = generation.idList("eos_token_id");
  const result: GenerationConfig = {
    bosTokenId: generation.has("bos_token_id") ? generation.optionalId("bos_token_id") : config.bosTokenId,
    eosTokenIds: eosTokenIds.length > 0 ? eosTokenIds : config.eosTokenIds,
  };
  const sampling = { temperature: "temperature", topP: "top_p", topK: "top_k", repetitionPenalty: "repetition_penalty" } as const;
  for (const [field, key] of Object.entries(sampling)) {
    const value = generation.optionalNumber(key);
    if (value !== null) result[field as keyof typeof sampling] = value;
  }
  return result;
}

/** config.json contents -> ModelConfig; `file` names config.json in errors. */
export function parseHfConfig(outerJson: Record<string, unknown>, file: string): ModelConfig {
  const json = languageModelConfig(outerJson, file);
  const modelType = new FieldReader((key) => json[key], file).string("model_type");
  const family = families[modelType];
  // Keys the config leaves out take transformers' defaults for the family (Gemma-3's text_config is sparse).
  const fields = new FieldReader((key) => (key in json ? json[key] : family?.configDefaults?.[key]), file);
  if (!family) {
    throw new TsvllmError(
      "TSVLLM_ERR_UNSUPPORTED_ARCHITECTURE",
      `${file}: model_type "${modelType}" is not supported (${supportedModelTypes.join(", ")})`,
      "model_type",
    );
  }
  const architectures = json.architectures;
  const architecture = Array.isArray(architectures) && typeof architectures[0] === "string" ? architectures[0] : family.architecture;
  const hiddenSize = fields.positiveInteger("hidden_size");
  const numAttentionHeads = fields.positiveInteger("num_attention_heads");
  const maxPositionEmbeddings = fields.positiveInteger("max_position_embeddings", family.maxPositionEmbeddings);
  const numHiddenLayers = fields.positiveInteger("num_hidden_layers");
  const softcapping = family.softcapping;
  const window = slidingWindow(fields, family);
  return {
    architecture,
    modelType,
    hiddenSize,
    intermediateSize: fields.positiveInteger("intermediate_size"),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads: fields.positiveInteger("num_key_value_heads", numAttentionHeads),
    headDim: fields.positiveInteger("head_dim", hiddenSize / numAttentionHeads),
    vocabSize: fields.positiveInteger("vocab_size"),
    maxPositionEmbeddings,
    rmsNormEps: fields.number(family.layerNorm ? "layer_norm_eps" : "rms_norm_eps", family.rmsNormEps),
    ...ropeAndLayers(fields, family, numHiddenLayers, maxPositionEmbeddings, window),
    partialRotaryFactor: fields.number("partial_rotary_factor", family.partialRotaryFactor ?? 1),
    tieWordEmbeddings: fields.boolean("tie_word_embeddings", family.tieWordEmbeddings),
    hiddenAct: activation(fields, family),
    attentionBias: attentionBias(fields, family),
    slidingWindow: window,
    finalLogitSoftcapping: softcapping ? fields.nullableNumber("final_logit_softcapping", softcapping.finalLogit) : null,
    attnLogitSoftcapping: softcapping ? fields.nullableNumber("attn_logit_softcapping", softcapping.attnLogit) : null,
    queryPreAttnScalar: softcapping ? fields.number("query_pre_attn_scalar", softcapping.queryPreAttnScalar) : null,
    bosTokenId: fields.optionalId("bos_token_id"),
    eosTokenIds: fields.idList("eos_token_id"),
    torchDtype: torchDtype(fields),
    ...moeOf(fields, family),
    ...(family.graniteMultipliers ? { graniteMultipliers: graniteMultipliersOf(fields) } : {}),
    ...(family.layerNorm ? cohereFields(fields, family.layerNorm.logitScale) : {}),
    ...(family.noRopeLayerInterval ? { ropeLayers: ropeLayersOf(fields, numHiddenLayers, family.noRopeLayerInterval) } : {}),
    ...quantizationOf(fields, modelType),
  };
}

/**
 * Reads config.json and, when present, generation_config.json from a Hugging Face model folder.
 * vLLM's hf_overrides replace config.json's top-level keys before anything is parsed, so an
 * override means what the key would mean in the file.
 */
export async function readHfConfig(dir: string, hfOverrides: Readonly<Record<string, unknown>> = {}): Promise<{ config: ModelConfig; generationConfig: GenerationConfig }> {
  const configPath = join(dir, "config.json");
  const config = parseHfConfig({ ...(await readJsonFile(configPath)), ...hfOverrides }, configPath);
  const generationPath = join(dir, "generation_config.json");
  const generation = await readOptionalJsonFile(generationPath);
  const generationFields = generation ? new FieldReader((key) => generation[key], generationPath) : null;
  return { config, generationConfig: parseGenerationConfig(generationFields, config) };
}
