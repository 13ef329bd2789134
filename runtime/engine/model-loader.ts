// How LLM.create / AsyncLLM.create get a model runner and tokenizer: injected directly, through a
// per-call loadModel hook, or through the process-wide default loader that the model loading code
// registers (setDefaultModelLoader), so this module never depends on a particular weights format.
// Whatever loaded it, a pooling model's settings are read here from its folder's
// sentence-transformers files under the options' poolerConfig, as vLLM resolves them, and a
// sequence classifier's head, which its loader took out of the checkpoint, goes to the engine.
import { stat } from "node:fs/promises";
import { TsvllmError } from "../errors.ts";
import { cachedSnapshot, hubEnv, isHubId } from "../loader/hub.ts";
import { readCheckpointPooling } from "../loader/pooler-config.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import type { EngineArgs } from "./config.ts";
import { defaultSamplingParams } from "./generation-defaults.ts";
import type { ClassifierHead } from "./classifier.ts";
import { createEngine } from "./create-engine.ts";
import type { LLMEngine } from "./llm-engine.ts";
import type { ModelRunner } from "./model-runner.ts";
import { resolvePooling, type PoolerConfig } from "./pooling.ts";
import type { NativeSamplerAddon } from "./sampler-addon.ts";

export interface LoadedModel {
  runner: ModelRunner;
  tokenizer: Tokenizer;
  /** The runner's addon, which exports the native sampler too. */
  samplerAddon?: NativeSamplerAddon;
  /** The KV cache budget the loader sized for its device (CUDA: from gpuMemoryUtilization); replaces kvCacheMemoryBytes. */
  kvCacheMemoryBytes?: number;
  /** A sequence classifier's head (task "classify"), which the engine applies to each pooled state. */
  classifier?: ClassifierHead;
  /** A maxModelLen the loader settled below the model's positions (disableSlidingWindow caps it to the window); replaces maxModelLen. */
  maxModelLen?: number;
}

export interface LLMOptions extends EngineArgs {
  /** A model directory, GGUF file or hub id; the name the server reports. */
  model: string;
  /** The hub revision (branch, tag or commit) of a hub id `model` (vLLM's revision); default main. */
  revision?: string;
  /** The folder hub downloads go to and are read from (vLLM's download_dir); default the Hugging Face cache. */
  downloadDir?: string;
  /**
   * vLLM's tokenizer: a folder or hub id whose tokenizer.json replaces the model's own tokenizer (a
   * GGUF file's embedded vocabulary, say). Named apart from `tokenizer`, which takes a Tokenizer object.
   */
  tokenizerPath?: string;
  /** The hub revision of a hub id tokenizerPath (vLLM's tokenizer_revision); default main. */
  tokenizerRevision?: string;
  /** vLLM's hf_overrides: keys that replace config.json's top-level ones before it is parsed (HF folders and hub ids only). */
  hfOverrides?: Record<string, unknown>;
  /**
   * vLLM's disable_sliding_window: for a model with a sliding window, maxModelLen is capped to the
   * window (within which full and windowed attention agree); other models are unaffected.
   */
  disableSlidingWindow?: boolean;
  /** Weights dtype ("auto" follows the checkpoint, as vLLM does). */
  dtype?: "auto" | "float32" | "float16" | "bfloat16";
  /** The KV cache's dtype (vLLM's kv_cache_dtype): "auto" is the model's dtype on CUDA, float32 on CPU; fp8 (= fp8_e4m3) stores e4m3, divided by the checkpoint's k_scale / v_scale where it has them (else 1); fp8_e5m2 stores e5m2, unscaled. */
  kvCacheDtype?: "auto" | "float32" | "float16" | "bfloat16" | "fp8" | "fp8_e4m3" | "fp8_e5m2";
  device?: "auto" | "cpu" | "cuda";
  /** CPU threads the forward pass uses (vLLM's CPU backend takes this from VLLM_CPU_OMP_THREADS_BIND); default: every core. */
  numThreads?: number;
  /** CUDA: the fraction of the device's memory for the weights, activations and KV cache (vLLM's default 0.9). */
  gpuMemoryUtilization?: number;
  /** CUDA: launch every kernel of every step instead of replaying a graph per decode-step shape (vLLM's enforce_eager). */
  enforceEager?: boolean;
  /**
   * vLLM's quantization: "fp8" quantizes an unquantized checkpoint's decoder linears to fp8 at load
   * (one scale per tensor), which CUDA then reads at a byte a weight. Quantized checkpoints need none.
   */
  quantization?: "fp8";
  /**
   * vLLM's task: "generate"; "embed", which loads the model as a pooling model (its forward pass
   * ends at the final hidden states) for LLM.embed and /v1/embeddings; or "classify", a pooling
   * model whose `score.weight` head turns the pooled state into class probabilities for
   * LLM.classify and /classify. By default sequence classifiers (LlamaForSequenceClassification
   * and the like) classify, base models (MistralModel and the like, without an LM head) embed and
   * the others generate.
   */
  task?: "generate" | "embed" | "classify";
  /**
   * vLLM's pooler_config, for a pooling model: each field given overrides the checkpoint's
   * sentence-transformers setting (modules.json), which overrides the default (LAST, normalized).
   */
  poolerConfig?: PoolerConfig;
  /**
   * vLLM's generation_config: "auto" (the default) takes the sampling defaults of the model's
   * generation_config.json (generation-defaults.ts), "vllm" the engine's own, any other value is a
   * folder holding the generation_config.json to read.
   */
  generationConfig?: string;
  /** vLLM's override_generation_config: generation config keys (temperature, top_p, ...) over the file's. */
  overrideGenerationConfig?: Record<string, unknown>;
  /** A runner and tokenizer to use as they are: nothing is loaded. */
  runner?: ModelRunner;
  tokenizer?: Tokenizer;
  /** Loads `model`; overrides the default loader for this call. */
  loadModel?: ModelLoader;
  samplerAddon?: NativeSamplerAddon;
  logger?: (message: string) => void;
}

export type ModelLoader = (options: LLMOptions) => Promise<LoadedModel>;

let defaultModelLoader: ModelLoader | null = null;

/**
 * Registers the loader LLM.create uses when the options bring no runner and no loadModel, and
 * returns the one it replaces (so a caller that swaps it in for a while can put it back).
 */
export function setDefaultModelLoader(loader: ModelLoader | null): ModelLoader | null {
  const previous = defaultModelLoader;
  defaultModelLoader = loader;
  return previous;
}

export async function engineFromOptions(options: LLMOptions): Promise<LLMEngine> {
  let loaded: LoadedModel;
  if (options.runner !== undefined && options.tokenizer !== undefined) {
    loaded = { runner: options.runner, tokenizer: options.tokenizer, samplerAddon: options.samplerAddon };
  } else {
    const loader = options.loadModel ?? defaultModelLoader;
    if (loader === null) {
      throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `no model loader is registered to load "${options.model}"; pass runner and tokenizer, or loadModel`, "model");
    }
    loaded = await loader(options);
  }
  const modelDir = await modelFolder(options);
  return createEngine({
    runner: loaded.runner,
    defaultSamplingParams: await defaultSamplingParams(modelDir, options.generationConfig, options.overrideGenerationConfig),
    ...(loaded.runner.poolingWidth === undefined ? {} : { pooling: resolvePooling(options.poolerConfig, modelDir === null ? null : readCheckpointPooling(modelDir)) }),
    tokenizer: loaded.tokenizer,
    config: { ...options, ...loaderSettled(loaded) },
    samplerAddon: options.samplerAddon ?? loaded.samplerAddon,
    ...(loaded.classifier === undefined ? {} : { classifier: loaded.classifier }),
    logger: options.logger,
    ...(await loadDraftRunner(options)),
  });
}

/** The engine settings the loader settled for its device and model, which replace the options'. */
function loaderSettled(loaded: LoadedModel): EngineArgs {
  return {
    ...(loaded.kvCacheMemoryBytes === undefined ? {} : { kvCacheMemoryBytes: loaded.kvCacheMemoryBytes }),
    ...(loaded.maxModelLen === undefined ? {} : { maxModelLen: loaded.maxModelLen }),
  };
}

/** The model's folder, or its cached hub snapshot, whose side files (pooling, generation config) the engine reads; null for a GGUF file. */
async function modelFolder({ model, revision, downloadDir }: LLMOptions): Promise<string | null> {
  const isDir = (await stat(model).catch(() => null))?.isDirectory() ?? false;
  return isDir ? model : isHubId(model) ? await cachedSnapshot(model, revision, hubEnv(downloadDir)) : null;
}

/** The draft model of speculativeConfig {model}, loaded as the target is, with the same limits and no adapters. */
async function loadDraftRunner(options: LLMOptions): Promise<{ draftRunner?: ModelRunner }> {
  const spec = options.speculativeConfig;
  if (!spec?.model || (spec.method !== undefined && spec.method !== "draft_model")) return {};
  const loader = options.loadModel ?? defaultModelLoader;
  if (loader === null) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `no model loader is registered to load the draft model "${spec.model}"`, "speculativeConfig.model");
  // The target's checkpoint choices (revision, overrides, tokenizer) are not the draft's.
  const draft = await loader({ ...options, model: spec.model, speculativeConfig: null, enableLora: false, runner: undefined, tokenizer: undefined, revision: undefined, hfOverrides: undefined, tokenizerPath: undefined, tokenizerRevision: undefined });
  return { draftRunner: draft.runner };
}
