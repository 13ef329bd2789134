// Engine settings with vLLM's names and defaults (camelCased), resolved once against the model so
// every later component can trust them.
import { TsvllmError } from "../errors.ts";
import { resolveSpeculativeConfig, type SpeculativeArgs, type SpeculativeConfig } from "./speculative.ts";

export type SchedulingPolicy = "fcfs" | "priority";

/** What happens to a preempted sequence's KV: freed and recomputed later, or moved to the swap space and back. */
export type PreemptionMode = "recompute" | "swap";

export interface EngineConfig {
  /** Tokens per KV cache block. */
  blockSize: number;
  maxNumSeqs: number;
  /** Token budget of one step, shared by prefill chunks and decodes. */
  maxNumBatchedTokens: number;
  /** Prompt plus output tokens of one sequence. */
  maxModelLen: number;
  enablePrefixCaching: boolean;
  enableChunkedPrefill: boolean;
  schedulingPolicy: SchedulingPolicy;
  /** The most log-probs a request may ask for per token, sampled or prompt (vLLM's max_logprobs); -1: the whole vocabulary. */
  maxLogprobs: number;
  /**
   * vLLM's stream_interval (--stream-interval): a streamed request's outputs go out every this many
   * tokens at least; a request's own stream_interval can only raise it. 1: every token.
   */
  streamInterval: number;
  /** KV cache budget in bytes (vLLM's kv_cache_memory_bytes; the CPU default is 4 GiB). */
  kvCacheMemoryBytes: number;
  /** Use exactly this many KV blocks instead of sizing from kvCacheMemoryBytes. */
  numGpuBlocksOverride: number | null;
  /**
   * vLLM V0's preemption_mode: "recompute" (V1's only mode, the default) frees a preempted
   * sequence's blocks; "swap" first copies its computed KV to host memory, falling back to
   * recompute when the swap space is full.
   */
  preemptionMode: PreemptionMode;
  /** Host memory for swapped-out KV in GiB (vLLM V0's swap_space), allocated only with preemptionMode "swap". */
  swapSpace: number;
  /** Requests allowed to wait for a slot before new ones get TSVLLM_ERR_QUEUE_FULL. */
  maxWaitingRequests: number;
  /** Seeds the per-request seeds of requests that bring none; null draws them at random. */
  seed: number | null;
  /** vLLM's speculative_config: drafts checked in one forward pass (ngram lookup); null: none. */
  speculativeConfig: SpeculativeConfig | null;
  /** Compiles the model with LoRA slots so requests can name adapters (vLLM's enable_lora). */
  enableLora: boolean;
  /** Adapters one step can run: requests of more adapters wait (vLLM's max_loras). */
  maxLoras: number;
  /** The largest adapter rank the slots hold (vLLM's max_lora_rank). */
  maxLoraRank: number;
  /** Adapters kept loaded in host memory (vLLM's max_cpu_loras); null: maxLoras. */
  maxCpuLoras: number | null;
  /** vLLM's reasoning_config: the strings around a reasoning section, which thinking_token_budget counts within; null: none. */
  reasoningConfig: ReasoningConfig | null;
}

export interface ReasoningConfig {
  thinkStartStr: string;
  thinkEndStr: string;
}

export type EngineArgs = Partial<Omit<EngineConfig, "speculativeConfig">> & { speculativeConfig?: SpeculativeArgs | null };

export const defaultEngineArgs = Object.freeze({
  blockSize: 16,
  maxNumSeqs: 256,
  maxNumBatchedTokens: 8192,
  enablePrefixCaching: true,
  enableChunkedPrefill: true,
  schedulingPolicy: "fcfs" as SchedulingPolicy,
  maxLogprobs: 20,
  streamInterval: 1,
  kvCacheMemoryBytes: 4 * 1024 ** 3,
  numGpuBlocksOverride: null,
  preemptionMode: "recompute" as PreemptionMode,
  swapSpace: 4,
  maxWaitingRequests: 4096,
  seed: null,
  speculativeConfig: null,
  enableLora: false,
  maxLoras: 1,
  maxLoraRank: 16,
  maxCpuLoras: null,
  reasoningConfig: null,
});

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `${name} must be a positive integer, got ${value}`, name);
  }
  return value;
}

/** Fills defaults and checks the settings against the model's own maximum length. */
export function resolveEngineConfig(args: EngineArgs, modelMaxLen: number): EngineConfig {
  const { speculativeConfig, ...rest } = pickEngineArgs(args);
  const config: EngineConfig = { ...defaultEngineArgs, maxModelLen: modelMaxLen, ...rest, speculativeConfig: speculativeConfig ? resolveSpeculativeConfig(speculativeConfig) : null };
  positiveInteger(config.blockSize, "blockSize");
  positiveInteger(config.maxNumSeqs, "maxNumSeqs");
  positiveInteger(config.maxNumBatchedTokens, "maxNumBatchedTokens");
  positiveInteger(config.maxModelLen, "maxModelLen");
  positiveInteger(config.maxWaitingRequests, "maxWaitingRequests");
  positiveInteger(config.streamInterval, "streamInterval");
  if (!Number.isInteger(config.maxLogprobs) || config.maxLogprobs < -1) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `maxLogprobs must be -1 (the whole vocabulary) or a count >= 0, got ${config.maxLogprobs}`, "maxLogprobs");
  }
  if (config.numGpuBlocksOverride !== null) positiveInteger(config.numGpuBlocksOverride, "numGpuBlocksOverride");
  positiveInteger(config.maxLoras, "maxLoras");
  positiveInteger(config.maxLoraRank, "maxLoraRank");
  if (config.maxCpuLoras !== null && positiveInteger(config.maxCpuLoras, "maxCpuLoras") < config.maxLoras) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `maxCpuLoras (${config.maxCpuLoras}) must be at least maxLoras (${config.maxLoras})`, "maxCpuLoras");
  }
  if (config.maxModelLen > modelMaxLen) {
    throw new TsvllmError(
      "TSVLLM_ERR_INVALID_ARGUMENT",
      `maxModelLen ${config.maxModelLen} exceeds the model's maximum of ${modelMaxLen} positions`,
      "maxModelLen",
    );
  }
  if (!config.enableChunkedPrefill && config.maxNumBatchedTokens < config.maxModelLen) {
    // Without chunking a whole prompt must fit in one step, or a long prompt would wait forever.
    throw new TsvllmError(
      "TSVLLM_ERR_INVALID_ARGUMENT",
      `with chunked prefill off, maxNumBatchedTokens (${config.maxNumBatchedTokens}) must be at least maxModelLen (${config.maxModelLen})`,
      "maxNumBatchedTokens",
    );
  }
  if (config.schedulingPolicy !== "fcfs" && config.schedulingPolicy !== "priority") {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `schedulingPolicy must be "fcfs" or "priority"`, "schedulingPolicy");
  }
  if (config.preemptionMode !== "recompute" && config.preemptionMode !== "swap") {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `preemptionMode must be "recompute" or "swap", got ${JSON.stringify(config.preemptionMode)}`, "preemptionMode");
  }
  const reasoning = config.reasoningConfig;
  if (reasoning !== null && [reasoning.thinkStartStr, reasoning.thinkEndStr].some((s) => typeof s !== "string" || s === "")) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `reasoningConfig needs non-empty thinkStartStr and thinkEndStr, got ${JSON.stringify(reasoning)}`, "reasoningConfig");
  }
  if (!(Number.isFinite(config.swapSpace) && config.swapSpace >= 0)) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `swapSpace must be a number of GiB, 0 or more; got ${config.swapSpace}`, "swapSpace");
  }
  return config;
}

const engineArgNames: readonly (keyof EngineConfig)[] = [
  "blockSize",
  "maxNumSeqs",
  "maxNumBatchedTokens",
  "maxModelLen",
  "enablePrefixCaching",
  "enableChunkedPrefill",
  "schedulingPolicy",
  "maxLogprobs",
  "streamInterval",
  "kvCacheMemoryBytes",
  "numGpuBlocksOverride",
  "preemptionMode",
  "swapSpace",
  "maxWaitingRequests",
  "seed",
  "speculativeConfig",
  "enableLora",
  "maxLoras",
  "maxLoraRank",
  "maxCpuLoras",
  "reasoningConfig",
];

/** The engine settings among a larger options object (LLM options also carry the model and hooks). */
function pickEngineArgs(args: EngineArgs): EngineArgs {
  const picked: Record<string, unknown> = {};
  for (const name of engineArgNames) if (args[name] !== undefined) picked[name] = args[name];
  return picked as EngineArgs;
}
