// One entry point for weights: a Hugging Face folder, a .gguf file, or a hub id (cached or downloaded).
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { prefixBaseModelTensors } from "./base-model.ts";
import { extractLanguageModelTensors } from "./language-model.ts";
import { modelFileError } from "./file-io.ts";
import { loadGguf } from "./gguf.ts";
import { splitGraniteMoeExperts } from "./granite-moe.ts";
import { splitGptOssExperts } from "./gpt-oss-experts.ts";
import { readHfConfig } from "./hf-config.ts";
import { hubEnv, isHubId, resolveHubModel } from "./hub.ts";
import { normalizeFp8 } from "./fp8.ts";
import { normalizeGptq } from "./gptq.ts";
import { readKvCacheScales } from "./kv-cache-scales.ts";
import { loadSafetensorsFile, loadShardedSafetensors } from "./safetensors.ts";
import type { LoadedModel, LoadedTensor, TensorMemory } from "./types.ts";

/** Which checkpoint to read, with vLLM's names: the hub revision and download_dir, and hf_overrides over config.json. */
export interface CheckpointOptions {
  revision?: string;
  downloadDir?: string;
  hfOverrides?: Record<string, unknown>;
}

/** Where tensor data comes from (types.ts: plain typed arrays by default), and which checkpoint. */
export type LoadOptions = TensorMemory & CheckpointOptions;

/** Loads a Hugging Face model folder: config.json, generation_config.json and safetensors weights. */
export async function loadHfFolder(dir: string, options: LoadOptions = {}): Promise<LoadedModel> {
  if (!existsSync(join(dir, "config.json"))) throw modelFileError(join(dir, "config.json"), "file not found: a Hugging Face model folder needs config.json");
  const { config, generationConfig } = await readHfConfig(dir, options.hfOverrides);
  let tensors: Map<string, LoadedTensor>;
  if (existsSync(join(dir, "model.safetensors.index.json"))) {
    tensors = await loadShardedSafetensors(dir, undefined, options);
  } else if (existsSync(join(dir, "model.safetensors"))) {
    tensors = new Map();
    await loadSafetensorsFile(join(dir, "model.safetensors"), tensors, undefined, options);
  } else {
    throw modelFileError(join(dir, "model.safetensors"), "file not found (nor model.safetensors.index.json); PyTorch .bin checkpoints are not supported");
  }
  prefixBaseModelTensors(config, tensors);
  extractLanguageModelTensors(config, tensors);
  splitGraniteMoeExperts(dir, config, tensors);
  splitGptOssExperts(dir, config, tensors);
  normalizeGptq(dir, config, tensors);
  normalizeFp8(dir, config, tensors);
  readKvCacheScales(dir, config, tensors);
  return { source: dir, format: "hf", config, generationConfig, tensors };
}

/**
 * Loads a model from a folder with config.json, a .gguf file, or a Hugging Face hub id such as
 * "TinyLlama/TinyLlama-1.1B-Chat-v1.0" (taken from the local hub cache, downloaded when missing).
 */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const info = await stat(path).catch(() => null);
  if (info?.isDirectory()) return loadHfFolder(path, options);
  if (info?.isFile()) {
    if (path.toLowerCase().endsWith(".gguf")) {
      if (options.hfOverrides !== undefined) throw modelFileError(path, "hfOverrides apply to a Hugging Face folder's config.json, which a GGUF file does not have", "hfOverrides");
      return loadGguf(path, options);
    }
    throw modelFileError(path, "not a .gguf file or a model folder");
  }
  if (isHubId(path)) return loadHfFolder(await resolveHubModel(path, { revision: options.revision, env: hubEnv(options.downloadDir) }), options);
  throw modelFileError(path, "not found: expected a model folder, a .gguf file or a Hugging Face model id");
}

export { loadGguf } from "./gguf.ts";
export { resolveHubModel, cachedSnapshot, hubCacheDir, hubEnv } from "./hub.ts";
export { tensorToF32, f16ToF32, bf16ToF32 } from "./convert.ts";
