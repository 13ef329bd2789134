// Building an engine: the KV cache (and swap space, and a draft model's cache) sized from the
// memory budget and logged, then the LLMEngine around the runner.
import { TsvllmError } from "../errors.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import type { ClassifierHead } from "./classifier.ts";
import { resolveEngineConfig, type EngineArgs, type EngineConfig } from "./config.ts";
import { DraftModelProposer } from "./draft-model.ts";
import type { DefaultSamplingParams } from "./generation-defaults.ts";
import { checkKvCapacity, describeKvCapacity, kvCacheBytesPerBlock, numKvCacheBlocks } from "./kv-cache-sizing.ts";
import { LLMEngine } from "./llm-engine.ts";
import type { ModelRunner } from "./model-runner.ts";
import type { ModelPooling } from "./pooling.ts";
import { loadSamplerAddon, type NativeSamplerAddon } from "./sampler-addon.ts";

export interface EngineOptions {
  runner: ModelRunner;
  tokenizer: Tokenizer;
  config?: EngineArgs;
  /** An addon exporting the native sampler; by default a kernel-free one is built (and cached). */
  samplerAddon?: NativeSamplerAddon;
  /** Startup lines such as the KV capacity; default: stderr. */
  logger?: (message: string) => void;
  /** The draft model's runner, for speculativeConfig method "draft_model" (its KV cache is sized here beside the target's). */
  draftRunner?: ModelRunner;
  /** How a pooling model pools (resolvePooling); default: its last token's state, normalized. */
  pooling?: ModelPooling;
  /** A sequence classifier's head (task "classify"): pooling requests give class probabilities, not embeddings. */
  classifier?: ClassifierHead;
  /** The model creator's sampling defaults (generation-defaults.ts); none by default. */
  defaultSamplingParams?: DefaultSamplingParams;
}

/** Builds the KV cache for the runner's model from the byte budget, then the engine around it. */
export function createEngine(options: EngineOptions): LLMEngine {
  const { runner } = options;
  const config = resolveEngineConfig(options.config ?? {}, runner.config.maxModelLen);
  // Blocks beyond what maxNumSeqs full-length sequences can hold would never be used; for small
  // models a byte budget would otherwise mean millions of idle blocks.
  const useful = config.maxNumSeqs * Math.ceil(config.maxModelLen / config.blockSize) + 1;
  const draftRunner = draftRunnerFor(config, options);
  // A draft model's cache has a block for each of the target's: the budget buys both.
  const budget = draftRunner ? config.kvCacheMemoryBytes * kvShare(runner, draftRunner, config.blockSize) : config.kvCacheMemoryBytes;
  const numBlocks = config.numGpuBlocksOverride ?? Math.min(useful, numKvCacheBlocks(budget, runner.config, config.blockSize));
  checkKvCapacity(numBlocks, runner.config, config.blockSize, config.maxModelLen);
  const log = options.logger ?? ((m: string) => process.stderr.write(`${m}\n`));
  log(describeKvCapacity(numBlocks, config.blockSize, config.maxModelLen));
  runner.initializeKvCache(numBlocks, config.blockSize);
  draftRunner?.initializeKvCache(numBlocks, config.blockSize);
  let numSwapBlocks = 0;
  if (config.preemptionMode === "swap") {
    if (runner.initializeSwapSpace === undefined || runner.swapBlocks === undefined) {
      throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "this model runner cannot swap KV blocks to host memory; use preemptionMode \"recompute\"", "preemptionMode");
    }
    // As with the device blocks, more than maxNumSeqs full-length sequences' worth is never used.
    numSwapBlocks = Math.min(useful, numKvCacheBlocks(config.swapSpace * 2 ** 30, runner.config, config.blockSize));
    runner.initializeSwapSpace(numSwapBlocks);
    log(`Swap space: ${numSwapBlocks} blocks, ${numSwapBlocks * config.blockSize} tokens of preempted KV in host memory`);
  }
  const engine = new LLMEngine(config, { numBlocks, numSwapBlocks }, options.runner, options.tokenizer, options.samplerAddon ?? loadSamplerAddon(), options.pooling, options.classifier);
  if (draftRunner) engine.draftModel = new DraftModelProposer(draftRunner, config.blockSize, config.maxNumBatchedTokens);
  const defaults = options.defaultSamplingParams ?? {};
  if (Object.keys(defaults).length > 0) {
    engine.defaultSamplingParams = defaults;
    log(`Default sampling parameters have been overridden by the model's generation config: ${JSON.stringify(defaults)} (--generation-config vllm keeps the engine's own)`);
  }
  return engine;
}

/** The draft model's runner when the config drafts with one: it must share the target's vocabulary. */
function draftRunnerFor(config: EngineConfig, options: EngineOptions): ModelRunner | undefined {
  if (config.speculativeConfig?.method !== "draft_model") return undefined;
  const draft = options.draftRunner;
  if (draft === undefined) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "speculativeConfig method \"draft_model\" needs the draft model's runner", "speculativeConfig.model");
  if (draft.config.vocabSize !== options.runner.config.vocabSize) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `the draft model ${config.speculativeConfig.model} has a vocabulary of ${draft.config.vocabSize} tokens, the target ${options.runner.config.vocabSize}: a draft model must share the target's vocabulary`, "speculativeConfig.model");
  }
  return draft;
}

/** The target's share of the bytes a block costs in both caches. */
function kvShare(target: ModelRunner, draft: ModelRunner, blockSize: number): number {
  const bytes = (r: ModelRunner) => kvCacheBytesPerBlock(r.config, blockSize);
  return bytes(target) / (bytes(target) + bytes(draft));
}

