// The engine flags `serve`, `generate`, `chat` and `bench throughput` share, with vLLM's names,
// turned into LLM options (the checkpoint's own in checkpoint-options.ts). A flag vLLM still has
// that means nothing here is accepted with one notice naming it, never silently.
import { TsvllmError } from "../runtime/errors.ts";
import type { LLMOptions } from "../runtime/engine/model-loader.ts";
import type { ReasoningConfig } from "../runtime/engine/config.ts";
import { poolingTypes, type PoolerConfig, type PoolingType } from "../runtime/engine/pooling.ts";
import type { SpeculativeArgs } from "../runtime/engine/speculative.ts";
import { bytesFlag, flagError, intFlag, jsonObjectFlag, numberFlag, type parseFlags, type Options } from "./args.ts";
import { checkpointFlags, checkpointOptions } from "./checkpoint-options.ts";

export const engineFlags = {
  model: { type: "string" },
  "max-model-len": { type: "string" },
  "max-num-seqs": { type: "string" },
  "max-num-batched-tokens": { type: "string" },
  "block-size": { type: "string" },
  dtype: { type: "string" },
  device: { type: "string" },
  "kv-cache-memory": { type: "string" },
  "gpu-memory-utilization": { type: "string" },
  "enforce-eager": { type: "boolean" },
  "enable-prefix-caching": { type: "boolean" },
  "no-enable-prefix-caching": { type: "boolean" },
  seed: { type: "string" },
  "tensor-parallel-size": { type: "string" },
  quantization: { type: "string" },
  "kv-cache-dtype": { type: "string" },
  "preemption-mode": { type: "string" },
  "swap-space": { type: "string" },
  "speculative-config": { type: "string" },
  "reasoning-config": { type: "string" },
  "enable-lora": { type: "boolean" },
  "max-loras": { type: "string" },
  "max-lora-rank": { type: "string" },
  "max-cpu-loras": { type: "string" },
  task: { type: "string" },
  "pooler-config": { type: "string" },
  "generation-config": { type: "string" },
  "override-generation-config": { type: "string" },
  "override-pooler-config": { type: "string" },
  "enable-chunked-prefill": { type: "boolean" },
  "no-enable-chunked-prefill": { type: "boolean" },
  "max-num-partial-prefills": { type: "string" },
  "scheduling-policy": { type: "string" },
  "max-logprobs": { type: "string" },
  "stream-interval": { type: "string" },
  "disable-log-stats": { type: "boolean" },
  "cuda-graph-sizes": { type: "string", multiple: true },
  "cudagraph-capture-sizes": { type: "string", multiple: true },
  ...checkpointFlags,
} as const satisfies Options;

type EngineFlagValues = ReturnType<typeof parseFlags<typeof engineFlags>>["values"];

const stderrNotice = (message: string) => process.stderr.write(`tsvllm: ${message}\n`);

/** The scheduler flags of vLLM's SchedulerConfig (stream_interval among them) and max_logprobs, as far as this scheduler honours them. */
function schedulerOptions(values: EngineFlagValues): Pick<LLMOptions, "enableChunkedPrefill" | "schedulingPolicy" | "maxLogprobs" | "streamInterval"> {
  const options: Pick<LLMOptions, "enableChunkedPrefill" | "schedulingPolicy" | "maxLogprobs" | "streamInterval"> = {};
  if (values["enable-chunked-prefill"] && values["no-enable-chunked-prefill"]) throw flagError("no-enable-chunked-prefill", "contradicts --enable-chunked-prefill");
  if (values["enable-chunked-prefill"] || values["no-enable-chunked-prefill"]) options.enableChunkedPrefill = !values["no-enable-chunked-prefill"];
  // A prompt admitted in part takes the rest of the step's budget, so one prompt at a time is ever part-prefilled.
  if (values["max-num-partial-prefills"] !== undefined && intFlag(values["max-num-partial-prefills"], "max-num-partial-prefills", 1) !== 1) {
    throw flagError("max-num-partial-prefills", `must be 1 (vLLM's default): this scheduler prefills one partial prompt at a time, got ${values["max-num-partial-prefills"]}`);
  }
  const policy = values["scheduling-policy"];
  if (policy !== undefined && policy !== "fcfs" && policy !== "priority") throw flagError("scheduling-policy", `must be fcfs or priority, got "${policy}"`);
  if (policy !== undefined) options.schedulingPolicy = policy;
  const maxLogprobs = values["max-logprobs"];
  if (maxLogprobs !== undefined) {
    const n = Number(maxLogprobs);
    if (!Number.isInteger(n) || n < -1) throw flagError("max-logprobs", `must be -1 (the whole vocabulary) or a count of 0 or more, got "${maxLogprobs}"`);
    options.maxLogprobs = n;
  }
  if (values["stream-interval"] !== undefined) options.streamInterval = intFlag(values["stream-interval"], "stream-interval", 1);
  return options;
}

/** The LLM options the engine flags ask for; `notice` reports the flags accepted that change nothing here. */
export function llmOptions(values: EngineFlagValues, notice: (message: string) => void = stderrNotice): LLMOptions {
  if (!values.model) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "--model is required (a model folder, a .gguf file or a hub id)", "model");
  if (values["tensor-parallel-size"] !== undefined && intFlag(values["tensor-parallel-size"], "tensor-parallel-size", 1) !== 1) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "--tensor-parallel-size > 1 is not supported yet (one device per server)", "tensor-parallel-size");
  }
  if (values.quantization !== undefined && values.quantization !== "fp8") {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--quantization ${values.quantization} is not supported (fp8 is); GPTQ, AWQ and fp8 checkpoints (config.json quantization_config) and GGUF Q8_0/Q4_0 files need no flag`, "quantization");
  }
  const device = values.device ?? "auto";
  if (device !== "auto" && device !== "cpu" && device !== "cuda") throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--device must be cpu, cuda or auto, got "${device}"`, "device");
  const dtypeNames: Record<string, LLMOptions["dtype"]> = { auto: "auto", float32: "float32", float: "float32", float16: "float16", half: "float16", bfloat16: "bfloat16" };
  const dtype = dtypeNames[values.dtype ?? "auto"];
  if (!dtype) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--dtype must be auto, float32, float16 or bfloat16; got "${values.dtype}"`, "dtype");
  const kvCacheDtypeNames: Record<string, LLMOptions["kvCacheDtype"]> = { ...dtypeNames, fp8: "fp8", fp8_e4m3: "fp8_e4m3", fp8_e5m2: "fp8_e5m2" };
  const kvCacheDtype = kvCacheDtypeNames[values["kv-cache-dtype"] ?? "auto"];
  if (!kvCacheDtype) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--kv-cache-dtype must be auto, float32, float16, bfloat16, fp8, fp8_e4m3 or fp8_e5m2; got "${values["kv-cache-dtype"]}"`, "kv-cache-dtype");
  const options: LLMOptions = {
    model: values.model,
    dtype,
    kvCacheDtype,
    device,
    blockSize: intFlag(values["block-size"], "block-size", 16),
    maxNumSeqs: intFlag(values["max-num-seqs"], "max-num-seqs", 256),
    maxNumBatchedTokens: intFlag(values["max-num-batched-tokens"], "max-num-batched-tokens", 8192),
    enablePrefixCaching: !values["no-enable-prefix-caching"],
    kvCacheMemoryBytes: bytesFlag(values["kv-cache-memory"], "kv-cache-memory", 4 * 2 ** 30),
    ...schedulerOptions(values),
    ...checkpointOptions(values, values.model, notice),
  };
  for (const flag of ["cuda-graph-sizes", "cudagraph-capture-sizes"] as const) {
    if (values[flag] !== undefined) notice(`--${flag} is ignored: on CUDA tsvllm captures one graph per decode-step shape as it first meets it (--enforce-eager turns graphs off)`);
  }
  if (values["max-model-len"] !== undefined) options.maxModelLen = intFlag(values["max-model-len"], "max-model-len", 0);
  if (values.seed !== undefined) options.seed = Number(values.seed);
  if (values["gpu-memory-utilization"] !== undefined) {
    const utilization = Number(values["gpu-memory-utilization"]);
    if (!(utilization > 0 && utilization <= 1)) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--gpu-memory-utilization must be a fraction in (0, 1], got "${values["gpu-memory-utilization"]}"`, "gpu-memory-utilization");
    if (device !== "cuda") notice("--gpu-memory-utilization sizes the CUDA KV cache; on CPU use --kv-cache-memory");
    options.gpuMemoryUtilization = utilization;
  }
  if (values["enforce-eager"]) options.enforceEager = true;
  const preemptionMode = values["preemption-mode"];
  if (preemptionMode !== undefined) {
    if (preemptionMode !== "recompute" && preemptionMode !== "swap") throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--preemption-mode must be recompute or swap, got "${preemptionMode}"`, "preemption-mode");
    options.preemptionMode = preemptionMode;
  }
  if (values["swap-space"] !== undefined) {
    const gib = numberFlag(values["swap-space"], "swap-space", 4);
    if (gib < 0) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--swap-space must be GiB of host memory, 0 or more; got "${values["swap-space"]}"`, "swap-space");
    options.swapSpace = gib;
  }
  if (values.quantization === "fp8") options.quantization = "fp8";
  const task = values.task;
  if (task !== undefined && task !== "generate" && task !== "embed" && task !== "classify") throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--task must be generate, embed or classify, got "${task}"`, "task");
  // Absent: a sequence classifier classifies, a base model (no LM head) embeds, any other model generates.
  if (task !== undefined) options.task = task;
  const poolerFlag = values["pooler-config"] !== undefined ? "pooler-config" : values["override-pooler-config"] !== undefined ? "override-pooler-config" : null;
  if (poolerFlag === "override-pooler-config") notice("--override-pooler-config is deprecated (as in vLLM); use --pooler-config");
  if (poolerFlag !== null) options.poolerConfig = poolerConfigFlag(values[poolerFlag]!, poolerFlag);
  if (values["speculative-config"] !== undefined) options.speculativeConfig = speculativeConfigFlag(values["speculative-config"]);
  if (values["reasoning-config"] !== undefined) options.reasoningConfig = reasoningConfigFlag(values["reasoning-config"]);
  if (values["generation-config"] !== undefined) options.generationConfig = values["generation-config"];
  if (values["override-generation-config"] !== undefined) {
    options.overrideGenerationConfig = jsonObjectFlag(values["override-generation-config"], "override-generation-config", `{"temperature": 0.5}`);
  }
  if (values["enable-lora"]) {
    options.enableLora = true;
    options.maxLoras = intFlag(values["max-loras"], "max-loras", 1);
    options.maxLoraRank = intFlag(values["max-lora-rank"], "max-lora-rank", 16);
    if (values["max-cpu-loras"] !== undefined) options.maxCpuLoras = intFlag(values["max-cpu-loras"], "max-cpu-loras", 1);
  }
  return options;
}


/** A JSON object flag with snake_case keys, its fields renamed by `names`. */
function snakeCaseObjectFlag(value: string, flag: string, example: string, names: Record<string, string>): Record<string, unknown> {
  const fail = (why: string): never => {
    throw flagError(flag, why);
  };
  const args: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(jsonObjectFlag(value, flag, example))) {
    if (!(key in names)) fail(`has no field "${key}" (known: ${Object.keys(names).join(", ")})`);
    args[names[key]] = field;
  }
  return args;
}

/** vLLM's --speculative-config: a JSON object with snake_case keys, e.g. {"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_max": 3}. */
export function speculativeConfigFlag(value: string): SpeculativeArgs {
  const names = { method: "method", model: "model", num_speculative_tokens: "numSpeculativeTokens", prompt_lookup_max: "promptLookupMax", prompt_lookup_min: "promptLookupMin", disable_by_batch_size: "disableByBatchSize" };
  return snakeCaseObjectFlag(value, "speculative-config", `{"method": "ngram", "num_speculative_tokens": 4}`, names) as SpeculativeArgs;
}

/**
 * vLLM's --reasoning-config: the strings around a reasoning section, which thinking_token_budget
 * counts within, e.g. {"think_start_str": "<think>", "think_end_str": "</think>"}; later vLLM
 * releases call them reasoning_start_str and reasoning_end_str, also read.
 */
export function reasoningConfigFlag(value: string): ReasoningConfig {
  const names = { think_start_str: "thinkStartStr", think_end_str: "thinkEndStr", reasoning_start_str: "thinkStartStr", reasoning_end_str: "thinkEndStr" };
  const args = snakeCaseObjectFlag(value, "reasoning-config", `{"think_start_str": "<think>", "think_end_str": "</think>"}`, names);
  for (const field of ["thinkStartStr", "thinkEndStr"]) {
    if (typeof args[field] !== "string" || args[field] === "") throw flagError("reasoning-config", `needs a non-empty think_start_str and think_end_str, got ${value}`);
  }
  return args as unknown as ReasoningConfig;
}

/**
 * vLLM's --pooler-config (and its deprecated spelling --override-pooler-config): e.g.
 * {"pooling_type": "MEAN", "normalize": false}; use_activation is vLLM's newer name for normalize.
 */
export function poolerConfigFlag(value: string, flag = "pooler-config"): PoolerConfig {
  const args = snakeCaseObjectFlag(value, flag, `{"pooling_type": "MEAN", "normalize": false}`, { pooling_type: "poolingType", normalize: "normalize", use_activation: "normalize" });
  if (args.poolingType !== undefined && !poolingTypes.includes(args.poolingType as PoolingType)) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--${flag} pooling_type must be one of ${poolingTypes.join(", ")}, got ${JSON.stringify(args.poolingType)}`, flag);
  }
  if (args.normalize !== undefined && typeof args.normalize !== "boolean") throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--${flag} normalize must be true or false, got ${JSON.stringify(args.normalize)}`, flag);
  return args as PoolerConfig;
}
