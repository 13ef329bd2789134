// The forward emitter's shared vocabulary (codegen/emit/forward.ts and the linears' planning in
// forward-quantized.ts): what a model is compiled with, the weights it reads, and one launch's
// arguments before they are rendered to C++.
import type { Float } from "../../dsl/dtype.ts";
import type { QuantPanelFormat } from "../../dsl/kernels/matmul-quant-panels.ts";
import type { KeptDType, WeightFormat } from "../../runtime/loader/types.ts";

export interface ForwardConfig {
  modelName: string;
  activationDType: Float;
  weightDType: Float;
  /** The KV cache's element type: a float dtype, or fp8 e4m3 / e5m2 (stored rounded, read widened to f32). */
  kvCacheDType: Float | "fp8e4m3" | "fp8e5m2";
  blockSize: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  /** YaRN's attention factor per rope table; 1 elsewhere. */
  ropeMscale: Record<string, number>;
  /**
   * Which kernels the dense matmuls and attention run, and the weights' layout. "cpu": weights
   * packed into panels, matmulBlocked; pagedAttentionTiled for every step. "gpu": weights as stored;
   * steps of fewer than gpuTensorCoreRows rows run the GEMV-shaped matmulDecode (one program per
   * weight row, every token in turn, k across the block; the per-output matmul where K is not a
   * multiple of 8), larger ones, for f16/bf16 weights, cast the activations to the weights' dtype
   * and run the tensor-core matmulMma (32-row tiles up to gpuNarrowTileRows rows); decode steps
   * (one token per sequence) run attention split-K (pagedDecodeSplit + pagedDecodeCombine,
   * decodeSplits in forward.ts), others pagedAttentionTiled. Either plan renders to C++ and to
   * CUDA, so the GPU plan also runs (and is tested) on CPU.
   */
  kernelPlan: "cpu" | "gpu";
  /** The format a linear weight stays in instead of widening (a checkpoint tensor's, or every piece's of a fused one), if any. */
  packedWeight?: (name: string) => WeightFormat | undefined;
  /** The CPU plan's quantized panels of a linear weight over K inputs (GGUF blocks, ModelConfig.blockWeights), if it is read so. */
  quantPanels?: (name: string, columns: number) => QuantPanelFormat | undefined;
  /** GPTQ's group size along the input (null: the whole input is one group). */
  gptqGroupSize?: number | null;
  /** Block-wise fp8's scale block [BN, BK] (absent: one scale per output). */
  fp8BlockSize?: readonly [number, number];
  /**
   * fp8 weights whose checkpoint quantizes activations: the GPU plan runs them W8A8
   * (dsl/kernels/fp8-mma.ts), each linear's input quantized to e4m3 at every step ("dynamic": a
   * scale per token from its max, or per token and group of BK inputs with block-wise weights;
   * "static": the checkpoint's input scale), then the e4m3 product on tensor cores from
   * gpuTensorCoreRows rows, GEMV-shaped below.
   */
  fp8Activations?: "dynamic" | "static";
  /** Multi-LoRA (dsl/kernels/lora.ts) on every linear of the decoder layers; absent: none. */
  lora?: LoraForwardConfig;
}

/** The LoRA slots a model is compiled with (vLLM's enable_lora settings). */
export interface LoraLimits {
  /** Adapters one step can run (vLLM's max_loras): the slots of each linear's A and B tables. */
  maxLoras: number;
  /** The largest rank an adapter may have (max_lora_rank); smaller ones are zero-padded. */
  maxLoraRank: number;
}

export interface LoraForwardConfig extends LoraLimits {
  /** Whether the checkpoint stacks this weight from projections (the architecture's weight map), which adapters train apart. */
  isFused: (weightName: string) => boolean;
}

/** One LoRA table of a linear: every slot's A transposed [inFeatures, slices * rank] or B transposed [rank, outFeatures] (dsl/kernels/lora.ts). */
export interface LoraTable {
  part: "a" | "b";
  /** The model's weight dtype: f32, or the bits of f16 / bf16 values. */
  dtype: Float;
  maxLoras: number;
  rank: number;
  inFeatures: number;
  outFeatures: number;
  /** The output sizes of the projections it is fused from, in order; one entry when it is not fused. */
  slices: number[];
}

/** Elements of one slot of a LoRA table. */
export const loraSlotElements = (t: LoraTable) => (t.part === "a" ? t.slices.length * t.rank * t.inFeatures : t.outFeatures * t.rank);

/**
 * From this many rows a GPU-plan matmul over f16/bf16 weights runs on tensor cores (the rows past T
 * in a tile computed and dropped). On an H200 (Llama-3-8B shape, bf16) matmulDecode took
 * 70 us per layer's gate_up at 1 row and about 45 us more per extra row (1.47 ms at 32 rows),
 * while matmulMma, at the 35 TFLOP/s it reached on large GEMMs, does the 64-row tile in about
 * 0.43 ms: they cross near 9 rows, and from 16 the tensor cores are well ahead.
 */
export const gpuTensorCoreRows = 16;

/** Up to this many rows the tensor-core matmul runs 32-row tiles (TM = 32), above it 64-row ones. */
export const gpuNarrowTileRows = 32;

/** A weight the forward pass reads: a checkpoint tensor (or a fused stack of them) as stored,
 *  packed into the dense matmul's panels (dsl/kernels/matmul-blocked.ts) from [rows, columns], or
 *  left in the GGUF blocks or fp8 values it came in (ModelConfig.packedWeights), by rows. */
export interface WeightSpec {
  name: string;
  panels?: { rows: number; columns: number };
  /**
   * GGUF blocks or fp8 values; an fp8 weight's per-output or per-block scales ("fp8.scale") or its
   * static activation scale ("fp8.inputScale", [1]: a fused one's pieces' largest); or one of a
   * GPTQ linear's tensors (its pieces' side by side, for a fused one).
   */
  packed?: KeptDType | "fp8.scale" | "fp8.inputScale" | GptqPart | QuantPanelPart;
  /** The quantized panels a QuantPanelPart belongs to: their format and the weight's rows x columns. */
  quant?: QuantPanelFormat & { rows: number; columns: number };
  /** A LoRA table of the linear whose weight this is (zeros until an adapter is put in a slot). */
  lora?: LoraTable;
}

export type GptqPart = "gptq.qweight" | "gptq.scales" | "gptq.qzeros";

/** One of a linear's quantized panel tensors (dsl/kernels/matmul-quant-panels.ts). */
export type QuantPanelPart = "qpanels.values" | "qpanels.scales" | "qpanels.mins";

/** The weight's name in the addon's table: a tensor can be read both as stored and as panels or blocks (a tied LM head). */
export const weightKey = (w: WeightSpec) => (w.lora ? `${w.name} (lora_${w.lora.part})` : w.panels ? `${w.name} (panels)` : w.packed ? `${w.name} (${w.packed})` : w.name);

/** A kernel argument: a C pointer expression and its dims (C expressions over the step). */
export interface Arg {
  ptr: string;
  dims: string[];
}

/** A kernel scalar: a number, or a C expression read at the step (the checkpoint's KV cache scales). */
export type Scalar = number | string;

/** One kernel launch: the kernel's file under dsl/kernels/ and export, its specialisation, its arguments and a comment for the source. */
export type KernelLaunch = [file: string, exportName: string, spec: { dtypes: Record<string, string>; consts: Record<string, number> }, pointers: Arg[], scalars: Scalar[], comment: string];

/** A launch and, if any, the C condition on the step under which it runs. */
export type LaunchArgs = [...KernelLaunch, when?: string];

/** Bytes of one element of a buffer or cache dtype. */
export const bytesOf = (d: string) => (d === "f32" || d === "i32" ? 4 : d === "fp8e4m3" || d === "fp8e5m2" ? 1 : 2);

export const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
