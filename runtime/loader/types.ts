// What every loader (HF folder, GGUF file, hub id) hands to the rest of the runtime: one normalized
// config and tensors under their Hugging Face names, in Hugging Face layout ([out, in] for linears),
// so models never know which file format the weights came from.

export type RopeScaling =
  | { ropeType: "linear"; factor: number }
  | { ropeType: "dynamic"; factor: number; originalMaxPositionEmbeddings: number }
  | { ropeType: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  /** truncate: the correction range's ends rounded to whole dims (transformers' default; GPT-OSS's configs say false). */
  | { ropeType: "yarn"; factor: number; originalMaxPositionEmbeddings: number; betaFast: number; betaSlow: number; attentionFactor: number | null; truncate: boolean }
  /**
   * Phi-3.5 / Phi-4-mini LongRoPE: each frequency divided by its short or long factor (one per
   * rotated pair), the long ones when max_model_len exceeds the original context; cos and sin
   * multiplied by attentionFactor (the config's, else sqrt(1 + ln s / ln original), s the context growth).
   */
  | { ropeType: "longrope"; shortFactor: number[]; longFactor: number[]; originalMaxPositionEmbeddings: number; attentionFactor: number };

export interface ModelConfig {
  /** config.json `architectures[0]`, e.g. "LlamaForCausalLM" (GGUF general.architecture is mapped to it). */
  architecture: string;
  modelType: string;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  /** The norms' epsilon: rms_norm_eps, or layer_norm_eps for Cohere's LayerNorm. */
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** Fraction of head_dim that is rotated (Phi-3 style partial rotary); 1 for most models. */
  partialRotaryFactor: number;
  tieWordEmbeddings: boolean;
  hiddenAct: "silu" | "gelu_pytorch_tanh" | "gelu";
  attentionBias: boolean;
  slidingWindow: number | null;
  /** Gemma-2: logits = cap * tanh(logits / cap). */
  finalLogitSoftcapping: number | null;
  attnLogitSoftcapping: number | null;
  /** Gemma-2: attention scale is query_pre_attn_scalar ** -0.5 instead of head_dim ** -0.5. */
  queryPreAttnScalar: number | null;
  /**
   * Gemma-3: which layers attend within slidingWindow and which attend globally (transformers'
   * layer_types). Absent: every layer is as slidingWindow says (Gemma-2 alternates by itself).
   */
  layerTypes?: readonly AttentionLayerType[];
  /**
   * Gemma-3: the RoPE base of the sliding-window layers (rope_local_base_freq), never scaled;
   * ropeTheta and ropeScaling are the global layers'. Absent: every layer rotates by ropeTheta.
   */
  ropeLocalTheta?: number;
  /** SmolLM3: whether each layer rotates q and k (no_rope_layers, 0 for a NoPE layer). Absent: every layer does. */
  ropeLayers?: readonly boolean[];
  /**
   * Granite: embeddings are multiplied by `embedding`, each attention and MLP output by `residual`
   * before its residual add, attention scores by `attention` (instead of head_dim ** -0.5), and
   * the logits divided by `logitsScaling` (config.json's *_multiplier and logits_scaling).
   */
  graniteMultipliers?: GraniteMultipliers;
  /** Cohere: the logits are multiplied by this (config.json's logit_scale). Absent: 1. */
  logitScale?: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** The checkpoint's dtype ("float32" | "float16" | "bfloat16"). */
  torchDtype: "float32" | "float16" | "bfloat16";
  /**
   * Checkpoint matrices kept as they are stored (by Hugging Face name): GGUF blocks, or fp8 e4m3
   * with a scale per output (or per block, fp8.weightBlockSize) beside them (`<p>.weight_scale`,
   * f32 once loaded). The GPU kernel
   * plan's forward pass reads them as they are (the block matmuls, the weight-only fp8 matmul); the
   * CPU plan widens fp8 into its panels and reads GGUF blocks as quantized panels (blockWeights).
   * Absent when there are none. Every other tensor is converted to the weight dtype.
   */
  packedWeights?: Readonly<Record<string, KeptDType>>;
  /**
   * Every GGUF matrix that stays in its blocks, by block dtype. The CPU plan reads a linear whose
   * weight (or every piece of a fused one) is here as quantized panels (dsl/kernels/matmul-quant-panels.ts)
   * rather than widening it; absent where there are none.
   */
  blockWeights?: Readonly<Record<string, BlockDType>>;
  /**
   * A GPTQ checkpoint (config.json quantization_config): each quantized linear `<p>.weight` is
   * stored as `<p>.qweight`, `<p>.qzeros` and `<p>.scales`, 4 bits in groups of groupSize along the
   * input (null: one group, group_size -1); dsl/kernels/int4-matmul.ts has the layout. "gptq" (v1)
   * files store each zero point minus 1, and AWQ checkpoints (quant_method "awq", GEMM version)
   * pack the same values along the outputs; the loader brings both to "gptq_v2" and says so.
   */
  gptq?: { groupSize: number | null; checkpointFormat: "gptq" | "gptq_v2" | "awq" };
  /**
   * An fp8 checkpoint (quantization_config quant_method "fp8", or "compressed-tensors" with 8-bit
   * float weights): its quantized linears are F8_E4M3 tensors with a per-tensor or per-channel
   * `weight_scale`, listed in packedWeights once loaded. Block-wise checkpoints (weightBlockSize
   * [BN, BK]) hold one scale per BN x BK block instead (`weight_scale_inv` in quant_method "fp8"
   * files), f32 [N / BN, cdiv(K, BK)] under `<p>.weight_scale` once loaded. activationScheme is how
   * the checkpoint quantizes the linears' inputs: "dynamic" per token at run time (quant_method
   * "fp8"'s default, llm-compressor's FP8_DYNAMIC) or "static" by a calibrated `<p>.input_scale`
   * (f32 [1] once loaded), which the GPU plan runs W8A8 on fp8 tensor cores
   * (dsl/kernels/fp8-mma.ts), or "none" (fp8 weights only, compressed-tensors without
   * input_activations), which runs the weight-only fp8 matmuls, as block-wise checkpoints do.
   */
  fp8?: { quantMethod: "fp8" | "compressed-tensors"; activationScheme: Fp8ActivationScheme; weightBlockSize?: readonly [number, number] };
  /**
   * Per layer, the fp8 KV cache scales a checkpoint holds (runtime/loader/kv-cache-scales.ts):
   * with --kv-cache-dtype fp8 keys are stored divided by k and values by v, and read multiplied back.
   */
  kvCacheScales?: { k: number; v: number }[];
  /**
   * A sparse mixture-of-experts model (Mixtral, Qwen3-MoE): every decoder layer's MLP is a router
   * (`<mlp>.gate`, [numExperts, hidden]) and numExperts gated MLPs of intermediateSize, of which
   * each token runs numExpertsPerTok. Absent for dense models.
   */
  moe?: MoeConfig;
}

export type AttentionLayerType = "sliding_attention" | "full_attention";

export interface GraniteMultipliers {
  embedding: number;
  residual: number;
  attention: number;
  logitsScaling: number;
}

export interface MoeConfig {
  numExperts: number;
  numExpertsPerTok: number;
  /** Each expert's intermediate size (Mixtral: intermediate_size; Qwen3-MoE: moe_intermediate_size). */
  intermediateSize: number;
  /**
   * Whether the chosen experts' routing weights are renormalized to sum to 1 (Mixtral always;
   * Qwen3-MoE's norm_topk_prob), else they are the router softmax's probabilities over all experts.
   */
  normTopkProb: boolean;
  /**
   * Qwen2-MoE: a dense gated MLP of this intermediate size (`<mlp>.shared_expert`) that every token
   * runs beside its routed experts, its output scaled by sigmoid(x . `<mlp>.shared_expert_gate`).
   * Absent: no shared expert.
   */
  sharedExpertIntermediateSize?: number;
  /**
   * GPT-OSS: the router and every expert projection have biases, and the experts' activation is
   * its SwiGLU clamped at this limit (swiglu_limit). Absent: SiLU experts without biases.
   */
  swigluLimit?: number;
}

export type Fp8ActivationScheme = "dynamic" | "static" | "none";

/** GGUF block formats the engine computes on without widening (dsl/kernels/gguf-matmul.ts). */
export type PackedDType = "q8_0" | "q4_0";

/** The dtypes a checkpoint matrix can stay in (ModelConfig.packedWeights): GGUF blocks, or fp8 e4m3 with per-output scales. */
export type KeptDType = PackedDType | "fp8e4m3";

/** How a linear's weight is held when it is not widened: a kept dtype, or GPTQ's three tensors. */
export type WeightFormat = KeptDType | "gptq";

/** The GGUF block formats a loaded tensor can stay in. */
export type BlockDType = "q8_0" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "q2_K" | "q3_K" | "q4_K" | "q5_K" | "q6_K" | "iq4_nl" | "iq4_xs" | "mxfp4";

/**
 * How a loaded tensor's data is stored. GGUF blocks stay in their blocks, mapped from the file,
 * until the compiled model repacks each matrix in turn: into quantized panels on the CPU plan,
 * into f16 panels (or, for Q8_0/Q4_0, the block matmuls' own reads) on the GPU plan.
 */

export type TensorDType = "f32" | "f16" | "bf16" | BlockDType | "i32" | "fp8e4m3" | "u8";

export interface LoadedTensor {
  /** Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight". */
  name: string;
  dtype: TensorDType;
  /** Hugging Face shape, outermost first (a linear weight is [out, in]). */
  shape: number[];
  /** f32: Float32Array; f16/bf16: Uint16Array of raw bits; q8_0/q4_0: Uint8Array of GGUF blocks (rows of `in`); i32: Int32Array (GPTQ's packed nibbles and group indices); fp8e4m3: Uint8Array of e4m3fn bits; u8: Uint8Array (MXFP4 blocks and scales of an HF checkpoint, decoded at load). */
  data: Float32Array | Uint16Array | Uint8Array | Int32Array;
}

export interface GenerationConfig {
  bosTokenId: number | null;
  eosTokenIds: number[];
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
}

export interface LoadedModel {
  /** Where it came from, for error messages. */
  source: string;
  format: "hf" | "gguf";
  config: ModelConfig;
  generationConfig: GenerationConfig;
  tensors: Map<string, LoadedTensor>;
}

/**
 * Where tensor data is read into: an ArrayBuffer of at least `bytes`. The default is a plain
 * typed array; the model loader passes the addon's huge-page buffers, because first touching
 * freshly mapped 4 KiB pages, not the read itself, is most of the time a large checkpoint takes
 * to load (TinyLlama's 2.2 GB here: 9.0 s into fresh arrays, 3.8 s into huge pages, 0.27 s
 * re-reading into memory already touched).
 */
export type HostAllocator = (bytes: number) => ArrayBuffer;

/** Bytes [offset, offset + bytes) of a file as an ArrayBuffer, mapped copy-on-write (the addon's mapFile). */
export type FileMapper = (path: string, offset: number, bytes: number) => ArrayBuffer;

/**
 * Where tensor data comes from: mapped from the file when mapFile is given and the data sits
 * aligned for its element type there (no first touch of fresh memory at all: the page cache's
 * pages are used where they are), else read into allocate's buffers (plain typed arrays by default).
 */
export interface TensorMemory {
  allocate?: HostAllocator;
  mapFile?: FileMapper;
}
