// Compiles a model for a config: trace the architecture's forward(), run the graph passes, lower
// to kernels, emit the forward pass and build the addon (a cache hit when nothing changed).
import { buildAddon, type BuiltAddon } from "../../codegen/build/addon.ts";
import { emitForward, type ForwardProgram } from "../../codegen/emit/forward.ts";
import type { ForwardConfig, LoraLimits } from "../../codegen/emit/forward-types.ts";
import { hiddenStatesOutput } from "../../codegen/passes/hidden-states-output.ts";
import { runGraphPasses } from "../../codegen/passes/pipeline.ts";
import type { Float } from "../../dsl/dtype.ts";
import { trace } from "../../dsl/module.ts";
import { architectureOf, buildModel } from "../../models/registry.ts";
import { ropeTables } from "../../models/common/rope.ts";
import { quantPanelFormat } from "../loader/quant-groups.ts";
import type { BlockDType, ModelConfig, WeightFormat } from "../loader/types.ts";
import { fusedPieceNames } from "./weights.ts";
import { createHash } from "node:crypto";

/** What a KV cache can hold: a float dtype, or OCP e4m3 (vLLM's kv_cache_dtype fp8 / fp8_e4m3) or e5m2 (fp8_e5m2). */
export type KvCacheDType = Float | "fp8e4m3" | "fp8e5m2";

export interface ModelDTypes {
  activation: Float;
  weight: Float;
  kvCache: KvCacheDType;
}

/**
 * dtype "auto": f32 checkpoints stay f32; bf16/f16 weights stay as stored, computed in f32.
 * kvCacheDtype "auto" (vLLM's kv_cache_dtype): the weights' dtype under the GPU kernel plan, as
 * vLLM keeps the cache in the model's dtype, halving a 16-bit model's cache against f32; f32
 * under the CPU plan, whose decode is bound by reading the weights rather than the cache, and
 * whose parity with llama.cpp is checked against its f32 cache. An fp8e4m3 cache stores K and V
 * rounded to e4m3, divided by the checkpoint's per-layer k/v scales (config.kvCacheScales; 1
 * without them, vLLM's default): half a 16-bit cache's bytes, so twice the tokens in the same
 * memory and half decode attention's reads.
 */
export function resolveDTypes(config: ModelConfig, dtype: "auto" | Float = "auto", kernelPlan: "cpu" | "gpu" = "cpu", kvCacheDtype: "auto" | KvCacheDType = "auto"): ModelDTypes {
  const stored: Float = config.torchDtype === "bfloat16" ? "bf16" : config.torchDtype === "float16" ? "f16" : "f32";
  const weight = dtype === "auto" ? stored : dtype;
  const kvCache = kvCacheDtype !== "auto" ? kvCacheDtype : kernelPlan === "gpu" ? weight : "f32";
  return { activation: "f32", weight, kvCache };
}

export interface CompiledModel {
  program: ForwardProgram;
  addon: BuiltAddon;
  dtypes: ModelDTypes;
  blockSize: number;
  rotaryDim: number;
}

export interface CompileOptions {
  dtype?: "auto" | Float;
  blockSize?: number;
  target?: "cpu" | "cuda";
  /** The kernel plan (ForwardConfig.kernelPlan); the target's own unless a test runs the GPU plan on CPU. */
  kernelPlan?: "cpu" | "gpu";
  /** The KV cache's dtype (resolveDTypes). */
  kvCacheDtype?: "auto" | KvCacheDType;
  /** Compiles in multi-LoRA (vLLM's enable_lora): this many adapter slots of at most this rank. */
  lora?: LoraLimits;
  /** A pooling model (vLLM's embedding runner): each logits row is the final hidden state instead (codegen/passes/hidden-states-output.ts). */
  pooling?: boolean;
  onProgress?: (m: string) => void;
}

/**
 * The format a linear weight stays in under the GPU plan: GPTQ's tensors for the decoder layers'
 * linears of a GPTQ checkpoint; else the GGUF block format of its checkpoint tensor, or the one
 * every piece of a fused weight shares. The CPU plan reads blocks as quantized panels instead
 * (quantPanelsOf): the block kernels' one program per output element (dsl/kernels/gguf-matmul.ts)
 * ran a TinyLlama-shaped Q8_0 file at 2.8 decode tokens/s here, against llama.cpp's 19.7 on the
 * same file (`tsvllm bench throughput`, 2 threads).
 */
function packedWeightOf(config: ModelConfig): (name: string) => WeightFormat | undefined {
  // GPTQ quantizes every linear of the decoder layers; the LM head stays as it is.
  if (config.gptq) return (name) => (/^model\.layers\.\d+\./.test(name) ? "gptq" : undefined);
  const packed = config.packedWeights ?? {};
  const { weightMap } = architectureOf(config);
  return (name) => {
    const formats = new Set((fusedPieceNames(name, weightMap) ?? [name]).map((piece) => packed[piece]));
    const [format] = formats;
    return formats.size === 1 ? format : undefined;
  };
}

/**
 * The CPU plan's quantized panels of a linear whose checkpoint tensor (or every piece of a fused
 * one) stays in GGUF blocks: one format for all its pieces (quantPanelFormat).
 */
function quantPanelsOf(config: ModelConfig): ForwardConfig["quantPanels"] {
  const blocks = config.blockWeights;
  if (!blocks) return undefined;
  const { weightMap } = architectureOf(config);
  return (name, columns) => {
    // A GGUF's expert stack is one tensor under the name the weight map would stack it into.
    const pieces = blocks[name] !== undefined ? [name] : fusedPieceNames(name, weightMap) ?? [name];
    const dtypes = pieces.map((piece) => blocks[piece]);
    return dtypes.every((d): d is BlockDType => d !== undefined) ? quantPanelFormat(dtypes, columns) : undefined;
  };
}

export interface PlannedModel {
  program: ForwardProgram;
  /** The forward pass's source for the target (C++ or CUDA). */
  source: string;
  dtypes: ModelDTypes;
  blockSize: number;
  rotaryDim: number;
}

/** Traces the architecture, runs the graph passes and emits the forward pass, building nothing. */
export function planModel(config: ModelConfig, options: CompileOptions = {}): PlannedModel {
  const target = options.target ?? "cpu";
  const kernelPlan = options.kernelPlan ?? (target === "cuda" ? "gpu" : "cpu");
  const dtypes = resolveDTypes(config, options.dtype, kernelPlan, options.kvCacheDtype);
  const blockSize = options.blockSize ?? 16;
  const model = buildModel(config);
  const traced = trace(model, dtypes.activation);
  const graph = runGraphPasses(options.pooling ? hiddenStatesOutput(traced) : traced);
  const rotaryDim = Math.round(config.headDim * config.partialRotaryFactor);
  const program = emitForward(graph, {
    modelName: config.architecture,
    activationDType: dtypes.activation,
    weightDType: dtypes.weight,
    kvCacheDType: dtypes.kvCache,
    blockSize,
    numKvHeads: config.numKeyValueHeads,
    headDim: config.headDim,
    // A pooling model's rows are hidden states.
    vocabSize: options.pooling ? config.hiddenSize : config.vocabSize,
    ropeMscale: Object.fromEntries(Object.entries(ropeTables(config, rotaryDim)).map(([key, table]) => [key, table.mscale])),
    kernelPlan,
    packedWeight: kernelPlan === "gpu" ? packedWeightOf(config) : undefined,
    quantPanels: kernelPlan === "cpu" ? quantPanelsOf(config) : undefined,
    gptqGroupSize: config.gptq?.groupSize,
    fp8BlockSize: config.fp8?.weightBlockSize,
    fp8Activations: fp8ActivationsOf(config),
    ...(options.lora ? { lora: { ...options.lora, isFused: (name: string) => fusedPieceNames(name, architectureOf(config).weightMap) !== undefined } } : {}),
  });
  return { program, source: target === "cuda" ? program.cudaSource : program.source, dtypes, blockSize, rotaryDim };
}

/** How the GPU plan quantizes fp8 linears' inputs: as the checkpoint says, but block-wise weights only with dynamic groups (vLLM's per-token-group). */
function fp8ActivationsOf(config: ModelConfig): ForwardConfig["fp8Activations"] {
  const scheme = config.fp8?.activationScheme;
  if (scheme === undefined || scheme === "none" || (scheme === "static" && config.fp8?.weightBlockSize)) return undefined;
  return scheme;
}

export function compileModel(config: ModelConfig, options: CompileOptions = {}): CompiledModel {
  const target = options.target ?? "cpu";
  const { program, source, dtypes, blockSize, rotaryDim } = planModel(config, options);
  const key = createHash("sha256").update(source).digest("hex").slice(0, 10);
  const forwardFile = target === "cuda" ? "forward.cu" : "forward.cc";
  const addon = buildAddon({ name: `model_${target}_${config.architecture}_${key}`, target, kernels: program.kernels, extraSources: { [forwardFile]: source }, onProgress: options.onProgress });
  return { program, addon, dtypes, blockSize, rotaryDim };
}
