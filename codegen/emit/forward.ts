// Lowers a fused graph to kernel launches and emits the model's forward pass as one C++ function
// (runtime/native/forward_abi.h): activation buffers are planned here (values whose lifetimes do
// not overlap share a buffer; views, RoPE and the residual stream update in place), every launch
// uses the kernels' uniform ABI, and the TypeScript side never loops over layers.
import type { Float } from "../../dsl/dtype.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { q4_0, q8_0, type BlockFormat } from "../../runtime/loader/gguf-quants.ts";
import type { KeptDType, PackedDType, WeightFormat } from "../../runtime/loader/types.ts";
import { banner } from "./banner.ts";
import { compileKernel } from "../compile.ts";
import { panelWidth } from "../../dsl/kernels/matmul-blocked.ts";
import type { KernelIR } from "../ir/types.ts";
import { inputsOf, type Graph, type Value } from "../trace/graph.ts";

export interface ForwardConfig {
  modelName: string;
  activationDType: Float;
  weightDType: Float;
  /** The KV cache's element type: a float dtype, or fp8 e4m3 / e5m2 (stored rounded, read widened to f32). */
  kvCacheDType: Float | "fp8e4m3" | "fp8e5m2";
  /**
   * Per layer, what the cache's keys and values are divided by when stored and multiplied by when
   * read (an fp8 checkpoint's k_scale / v_scale); 1 where absent. The key scale folds into
   * attention's score scale.
   */
  kvCacheScales?: readonly { k: number; v: number }[];
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
   * decodeSplits below), others pagedAttentionTiled. Either plan renders to C++ and to CUDA, so
   * the GPU plan also runs (and is tested) on CPU.
   */
  kernelPlan: "cpu" | "gpu";
  /** The format a linear weight stays in instead of widening (a checkpoint tensor's, or every piece's of a fused one), if any. */
  packedWeight?: (name: string) => WeightFormat | undefined;
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
}

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

/**
 * The splits of a GPU-plan decode step's attention, a C expression over the step: enough (token, KV
 * head, split) programs to give each of an H100/H200's 132 SMs about four, no more splits than the
 * longest sequence has blocks (the rest would be empty), and few enough that the partials fit their
 * buffer, which holds maxTokens rows of one split each.
 */
const decodeSplits = (numKvHeads: number) => {
  const programs = `(std::max<int64_t>(a.numTokens, 1) * ${numKvHeads})`;
  return `std::max<int64_t>(1, std::min<int64_t>({a.maxBlocksPerSeq, (512 + ${programs} - 1) / ${programs}, a.maxTokens / std::max<int64_t>(a.numTokens, 1)}))`;
};

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
  packed?: KeptDType | "fp8.scale" | "fp8.inputScale" | GptqPart;
}

export type GptqPart = "gptq.qweight" | "gptq.scales" | "gptq.qzeros";

/** The weight's name in the addon's table: a tensor can be read both as stored and as panels or blocks (a tied LM head). */
export const weightKey = (w: WeightSpec) => (w.panels ? `${w.name} (panels)` : w.packed ? `${w.name} (${w.packed})` : w.name);

interface Arg {
  ptr: string;
  dims: string[];
}

interface Launch {
  kernel: KernelIR;
  pointers: Arg[];
  scalars: number[];
  comment: string;
  /** A C condition on the step (e.g. its token count) under which the launch runs; always if absent. */
  when?: string;
}

export interface ForwardProgram {
  /** The forward pass for the CPU addon (kernels with the C++ launch ABI). */
  source: string;
  /** The same launches for the CUDA addon: device pointers, kernels launched on the step's stream. */
  cudaSource: string;
  kernels: KernelIR[];
  weights: WeightSpec[];
  /** rows "T": one row per token, "L": per logits row, "W": one row (the quantized linears' weights as W). */
  buffers: { rows: "T" | "L" | "W"; bytesPerRow: number }[];
}

/** The GGUF block formats (runtime/loader/gguf-quants.ts: 32 values a block). */
const packedFormats: Record<PackedDType, BlockFormat> = { q8_0, q4_0 };
const bytesOf = (d: string) => (d === "f32" || d === "i32" ? 4 : d === "fp8e4m3" || d === "fp8e5m2" ? 1 : 2);
const K = (file: string) => `dsl/kernels/${file}.ts`;
const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

export function emitForward(g: Graph, cfg: ForwardConfig): ForwardProgram {
  const byId = new Map(g.nodes.map((n) => [n.value.id, n]));
  const weights: WeightSpec[] = [];
  const weightIndex = new Map<string, number>();
  const weightRef = (name: string, layout: Pick<WeightSpec, "panels" | "packed"> = {}) => {
    const spec = { name, ...layout };
    const key = weightKey(spec);
    if (!weightIndex.has(key)) {
      weightIndex.set(key, weights.length);
      weights.push(spec);
    }
    return `a.weights[${weightIndex.get(key)}]`;
  };

  // Aliases: values that live in another value's buffer.
  const root = new Map<number, number>();
  const rootOf = (id: number): number => (root.has(id) ? rootOf(root.get(id)!) : id);
  for (const n of g.nodes) {
    if (n.op === "view" || n.op === "rope") root.set(n.value.id, n.x);
    if (n.op === "addRmsNorm" && n.part === "residual") root.set(n.value.id, n.residual);
  }
  const { slotOf, buffers } = planBuffers(g, rootOf, cfg.activationDType);

  const rowsExpr = (v: Value) => (v.rows === "T" ? "a.numTokens" : v.rows === "L" ? "a.numLogitRows" : String(v.rows));
  const inputPtr: Record<string, string> = { inputIds: "a.inputIds", positions: "a.positions", slotMapping: "a.slotMapping", seqIdx: "a.seqIdx", blockTables: "a.blockTables", logitsIndices: "a.logitsIndices" };
  const ptrOf = (id: number): string => {
    const n = byId.get(rootOf(id))!;
    if (n.op === "input") return `(void*)${inputPtr[n.name]}`;
    if (n.op === "weight") return weightRef(n.name);
    if (rootOf(id) === rootOf(g.output)) return "(void*)a.logits";
    return `a.buffers[${slotOf.get(rootOf(id))}]`;
  };
  /** The value viewed as [rows * leading inner dims, ...keep trailing dims]. */
  const view = (id: number, keep = 1): Arg => {
    const v = byId.get(id)!.value;
    const n = byId.get(id)!;
    if (n.op === "weight") return { ptr: ptrOf(id), dims: [String(v.rows), ...v.inner.map(String)] };
    const lead = v.inner.slice(0, v.inner.length - keep);
    const rows = lead.length ? `${rowsExpr(v)} * ${prod(lead)}` : rowsExpr(v);
    return { ptr: ptrOf(id), dims: [rows, ...v.inner.slice(v.inner.length - keep).map(String)] };
  };
  const A = cfg.activationDType;
  const W = cfg.weightDType;
  const C = cfg.kvCacheDType;
  const launches: Launch[] = [];
  const launch = (file: string, exportName: string, spec: { dtypes: Record<string, string>; consts: Record<string, number> }, pointers: Arg[], scalars: number[], comment: string, when?: string) => {
    launches.push({ kernel: compileKernel(K(file), exportName, spec as never), pointers, scalars, comment, ...(when ? { when } : {}) });
  };
  // GPU plan over f16/bf16 weights: one buffer per row kind holding a linear's input cast to W.
  const tensorCores = cfg.kernelPlan === "gpu" && (W === "f16" || W === "bf16");
  const castSlot = new Map<"T" | "L", number>();
  if (tensorCores) {
    const castBytes = new Map<"T" | "L", number>();
    for (const n of g.nodes) {
      if (n.op !== "linear") continue;
      const v = byId.get(n.x)!.value;
      if (v.rows === "T" || v.rows === "L") castBytes.set(v.rows, Math.max(castBytes.get(v.rows) ?? 0, prod(v.inner) * bytesOf(W)));
    }
    for (const [rows, bytesPerRow] of castBytes) castSlot.set(rows, buffers.push({ rows, bytesPerRow }) - 1);
  }
  // GPU plan over f16/bf16 weights: one buffer holding the largest quantized linear's weights in W.
  const weightNameOf = (id: number) => {
    const w = byId.get(id)!;
    return w.op === "weight" ? w.name : "";
  };
  /**
   * Whether a linear runs fp8 W8A8 (cfg.fp8Activations), which reads its weights as they are at
   * every row count; block-wise ones need dynamic activations and whole blocks along K (a short
   * last block stays weight-only).
   */
  const w8a8 = (n: Graph["nodes"][number]) => {
    if (cfg.kernelPlan !== "gpu" || cfg.fp8Activations === undefined || n.op !== "linear" || n.bias !== null || cfg.packedWeight?.(weightNameOf(n.weight)) !== "fp8e4m3") return false;
    return !cfg.fp8BlockSize || (cfg.fp8Activations === "dynamic" && prod(byId.get(n.x)!.value.inner) % cfg.fp8BlockSize[1] === 0);
  };
  const quantizedBytes = g.nodes.flatMap((n) => (n.op === "linear" && n.bias === null && !w8a8(n) && cfg.packedWeight?.(weightNameOf(n.weight)) ? [Number(byId.get(n.weight)!.value.rows) * prod(byId.get(n.x)!.value.inner) * bytesOf(W)] : []));
  const weightSlot = tensorCores && quantizedBytes.length > 0 ? buffers.push({ rows: "W", bytesPerRow: Math.max(...quantizedBytes) }) - 1 : undefined;
  // fp8 W8A8: per row kind, one buffer for a linear's input in e4m3 and one for its scales (one a
  // row, or one a row and group of BK inputs).
  const fp8Widths = new Map<"T" | "L", number>();
  for (const n of g.nodes) {
    const v = n.op === "linear" && w8a8(n) ? byId.get(n.x)!.value : undefined;
    if (v && (v.rows === "T" || v.rows === "L")) fp8Widths.set(v.rows, Math.max(fp8Widths.get(v.rows) ?? 0, prod(v.inner)));
  }
  const scalesPerRow = (K: number) => (cfg.fp8BlockSize ? K / cfg.fp8BlockSize[1] : 1);
  const fp8Slots = new Map([...fp8Widths].map(([rows, width]) => [rows, { xq: buffers.push({ rows, bytesPerRow: width }) - 1, xScale: buffers.push({ rows, bytesPerRow: 4 * scalesPerRow(width) }) - 1 }]));
  /** fp8 W8A8: x to e4m3 into the row buffers (per token, per token and group of BK, or by the static input scale), then the GEMV form under gpuTensorCoreRows rows and e4m3 tensor cores from there. */
  const w8a8Linear = (name: string, N: number, K: number, x: Arg, y: Arg, slots: { xq: number; xScale: number }) => {
    const count = x.dims[0];
    const [BN, BK] = cfg.fp8BlockSize ?? [N, K];
    const blocks = cfg.fp8BlockSize ? `, ${BN} x ${BK} blocks` : "";
    const xq = { ptr: `a.buffers[${slots.xq}]`, dims: [count, String(K)] };
    const xScale = { ptr: `a.buffers[${slots.xScale}]`, dims: cfg.fp8BlockSize ? [count, String(K / BK)] : [count] };
    const weight = { ptr: weightRef(name, { packed: "fp8e4m3" }), dims: [String(N), String(K)] };
    const wScale = { ptr: weightRef(name, { packed: "fp8.scale" }), dims: cfg.fp8BlockSize ? [String(N / BN), String(K / BK)] : [String(N)] };
    if (cfg.fp8BlockSize) {
      launch("fp8-mma", "quantizeFp8Groups", { dtypes: { A }, consts: { K, BK } }, [x, xq, xScale], [], `linear ${name}: x to e4m3, a scale per row and group of ${BK}`);
    } else if (cfg.fp8Activations === "static") {
      const inputScale = { ptr: weightRef(name, { packed: "fp8.inputScale" }), dims: ["1"] };
      launch("fp8-mma", "quantizeFp8RowsStatic", { dtypes: { A }, consts: { K } }, [x, inputScale, xq, xScale], [], `linear ${name}: x to e4m3 by its input scale`);
    } else {
      launch("fp8-mma", "quantizeFp8Rows", { dtypes: { A }, consts: { K } }, [x, xq, xScale], [], `linear ${name}: x to e4m3, a scale per row`);
    }
    const [rowsKernel, mmaKernel, blockConsts] = cfg.fp8BlockSize ? ["matmulFp8BlockRows", "matmulFp8BlockMma", { BN, BK }] : ["matmulFp8Rows", "matmulFp8Mma", {}];
    const operands = [xq, xScale, weight, wScale, y];
    launch("fp8-mma", rowsKernel, { dtypes: { A }, consts: { K, ...blockConsts } }, operands, [], `linear ${name} (fp8 W8A8${blocks})`, `${count} < ${gpuTensorCoreRows}`);
    const mma = (TM: number, when: string) => launch("fp8-mma", mmaKernel, { dtypes: { A }, consts: { K, ...blockConsts, TM } }, operands, [], `linear ${name} on fp8 tensor cores${blocks}`, when);
    mma(32, `${count} >= ${gpuTensorCoreRows} && ${count} <= ${gpuNarrowTileRows}`);
    mma(64, `${count} > ${gpuNarrowTileRows}`);
  };
  /** A quantized linear's kernels: its own matmul over x, and writing its weights out in W. */
  const quantizedLinear = (packed: WeightFormat, name: string, N: number, K: number) => {
    type LaunchArgs = [file: string, exportName: string, spec: { dtypes: Record<string, string>; consts: Record<string, number> }, pointers: Arg[], scalars: number[], comment: string];
    const part = (packedAs: WeightSpec["packed"], dims: number[]) => ({ ptr: weightRef(name, { packed: packedAs }), dims: dims.map(String) });
    if (packed === "gptq") {
      const G = cfg.gptqGroupSize ?? K;
      const tensors = [part("gptq.qweight", [K / 8, N]), part("gptq.scales", [K / G, N]), part("gptq.qzeros", [K / G, N / 8])];
      return {
        matmul: (x: Arg, y: Arg): LaunchArgs => ["int4-matmul", "matmulInt4", { dtypes: { A, S: "f16" }, consts: { K, G } }, [x, ...tensors, y], [], `linear ${name} (gptq int4)`],
        dequantize: (wh: Arg): LaunchArgs => ["int4-matmul", "dequantizeInt4", { dtypes: { H: W, S: "f16" }, consts: { K, G } }, [...tensors, wh], [], `linear ${name}: gptq int4 weights as ${W}`],
      };
    }
    if (packed === "fp8e4m3" && cfg.fp8BlockSize) {
      const [BN, BK] = cfg.fp8BlockSize;
      const tensors = [part(packed, [N, K]), part("fp8.scale", [N / BN, Math.ceil(K / BK)])];
      return {
        matmul: (x: Arg, y: Arg): LaunchArgs => ["fp8-matmul", "matmulFp8BlockWeights", { dtypes: { A }, consts: { K, BN, BK } }, [x, ...tensors, y], [], `linear ${name} (fp8 weights, ${BN} x ${BK} blocks)`],
        dequantize: (wh: Arg): LaunchArgs => ["fp8-matmul", "dequantizeFp8BlockWeights", { dtypes: { H: W }, consts: { K, BN, BK } }, [...tensors, wh], [], `linear ${name}: fp8 weights as ${W}`],
      };
    }
    if (packed === "fp8e4m3") {
      const tensors = [part(packed, [N, K]), part("fp8.scale", [N])];
      return {
        matmul: (x: Arg, y: Arg): LaunchArgs => ["fp8-matmul", "matmulFp8Weights", { dtypes: { A }, consts: { K } }, [x, ...tensors, y], [], `linear ${name} (fp8 weights)`],
        dequantize: (wh: Arg): LaunchArgs => ["fp8-matmul", "dequantizeFp8Weights", { dtypes: { H: W }, consts: { K } }, [...tensors, wh], [], `linear ${name}: fp8 weights as ${W}`],
      };
    }
    const blocks = part(packed, [N, (K / packedFormats[packed].valuesPerBlock) * packedFormats[packed].bytesPerBlock]);
    const suffix = packed === "q8_0" ? "Q8_0" : "Q4_0";
    return {
      matmul: (x: Arg, y: Arg): LaunchArgs => ["gguf-matmul", `matmul${suffix}`, { dtypes: { A }, consts: { K } }, [x, blocks, y], [], `linear ${name} (${packed} blocks)`],
      dequantize: (wh: Arg): LaunchArgs => ["gguf-matmul", `dequantize${suffix}`, { dtypes: { H: W }, consts: { K } }, [blocks, wh], [], `linear ${name}: ${packed} blocks as ${W}`],
    };
  };
  // GPU plan: one buffer for split-K decode attention's partials (max, sum, output per split).
  const attentionHeads = g.nodes.flatMap((n) => (n.op === "pagedAttention" ? [byId.get(n.q)!.value.inner[0]] : []));
  const decodeSlot = cfg.kernelPlan === "gpu" && attentionHeads.length > 0 ? buffers.push({ rows: "T", bytesPerRow: Math.max(...attentionHeads) * (cfg.headDim + 2) * 4 }) - 1 : undefined;
  /** The rope's inverse frequencies, a table the addon computes at load (one per rope key). */
  const invFreq = (n: { ropeKey: string; rotaryDim: number }): Arg => ({ ptr: weightRef(`rope.invFreq.${n.ropeKey}`), dims: [String(n.rotaryDim / 2)] });
  const kvScalesOf = (layer: number): [number, number] => {
    const scales = cfg.kvCacheScales?.[layer];
    return scales ? [scales.k, scales.v] : [1, 1];
  };
  const cache = (which: "kCache" | "vCache", layer: number): Arg => ({ ptr: `a.${which}[${layer}]`, dims: ["a.numBlocks", String(cfg.blockSize), String(cfg.numKvHeads), String(cfg.headDim)] });

  // eps is an f32 kernel scalar: rounding it here gives the same program whether the config spelled
  // it 1e-6 (config.json) or as its f32 value (GGUF), so both share one compiled artifact.
  const launchedGroups = new Set<number>();
  for (const n of g.nodes) {
    const out = (keep = 1) => view(n.value.id, keep);
    const width = n.value.inner[n.value.inner.length - 1];
    const features = prod(n.value.inner);
    switch (n.op) {
      case "input": case "weight": case "view": break;
      case "embedding":
        launch("embedding", "embedding", { dtypes: { W, A }, consts: { D: width } }, [view(n.ids), view(n.table), out()], [n.scale], "embedding");
        break;
      case "rmsNorm":
        launch("rms-norm", "rmsNorm", { dtypes: { A, W }, consts: { D: width } }, [view(n.x), view(n.weight), out()], [Math.fround(n.eps), n.weightOffset], "rmsNorm");
        break;
      case "addRmsNorm": {
        // One launch per group, at its first surviving part (dead-code elimination may drop the
        // residual part after the last layer; the residual buffer is still updated in place).
        if (launchedGroups.has(n.group)) break;
        launchedGroups.add(n.group);
        const normed = g.nodes.find((m) => m.op === "addRmsNorm" && m.group === n.group && m.part === "normed");
        if (!normed) break;
        launch("add-rms-norm", "addRmsNorm", { dtypes: { A, W }, consts: { D: width } }, [view(n.x), view(n.residual), view(n.weight), view(normed.value.id)], [Math.fround(n.eps), n.weightOffset], "residual += x; normed = rmsNorm(residual)");
        break;
      }
      case "add": case "mul":
        launch("elementwise", n.op, { dtypes: { A }, consts: { N: features } }, [view(n.a, n.value.inner.length), view(n.b, n.value.inner.length), out(n.value.inner.length)].map(flatten), [], n.op);
        break;
      case "silu": case "geluTanh":
        launch("elementwise", n.op, { dtypes: { A }, consts: { N: features } }, [flatten(view(n.x, n.value.inner.length)), flatten(out(n.value.inner.length))], [], n.op);
        break;
      case "scale": case "softcap":
        launch("elementwise", n.op, { dtypes: { A }, consts: { N: features } }, [flatten(view(n.x, n.value.inner.length)), flatten(out(n.value.inner.length))], [n.op === "scale" ? n.factor : n.cap], n.op);
        break;
      case "siluMul": case "geluTanhMul":
        launch("activations", n.op, { dtypes: { A }, consts: { I: width } }, [view(n.gateUp), out()], [], n.op);
        break;
      case "linear": {
        const x = view(n.x);
        const K = Number(x.dims[1]);
        const w = byId.get(n.weight)!;
        if (w.op !== "weight") throw new TsvllmError("TSVLLM_ERR_COMPILE", `linear %${n.value.id}: the weight must be a model parameter, got %${n.weight}`);
        const N = Number(w.value.rows);
        const bias = n.bias === null ? [] : [view(n.bias)];
        const count = x.dims[0];
        const rows = byId.get(n.x)!.value.rows;
        const slot = cfg.kernelPlan === "gpu" && (rows === "T" || rows === "L") ? castSlot.get(rows) : undefined;
        /** From gpuTensorCoreRows rows: x cast to W into its buffer, then the tensor-core matmul over `weight` (W [N, K]). */
        const tensorCoreMatmul = (xh: Arg, weight: Arg, label: string) => {
          const when = `${count} >= ${gpuTensorCoreRows}`;
          launch("elementwise", "castRows", { dtypes: { A, H: W }, consts: { N: K } }, [x, xh], [], `linear ${w.name}: x as ${W}`, when);
          const mma = (TM: number, tile: string) => launch("matmul-mma", n.bias === null ? "matmulMma" : "matmulBiasMma", { dtypes: { H: W, A }, consts: { K, TM } }, [xh, weight, ...bias, out()], [], label, tile);
          mma(32, `${when} && ${count} <= ${gpuNarrowTileRows}`);
          mma(64, `${count} > ${gpuNarrowTileRows}`);
        };
        // Quantized weights (GGUF blocks, GPTQ, fp8) stay as they are (the quantized kernels have
        // no bias form: a linear with a bias reads its weight widened). Under gpuTensorCoreRows rows
        // their own GEMV-shaped kernel reads them; from there on the step writes them out in W
        // once, into the weight buffer, for the tensor-core matmul.
        const fp8Slot = rows === "T" || rows === "L" ? fp8Slots.get(rows) : undefined;
        if (w8a8(n) && fp8Slot) {
          w8a8Linear(w.name, N, K, x, out(), fp8Slot);
          break;
        }
        const packed = n.bias === null ? cfg.packedWeight?.(w.name) : undefined;
        if (packed) {
          const format = quantizedLinear(packed, w.name, N, K);
          if (slot === undefined || weightSlot === undefined) {
            launch(...format.matmul(x, out()));
            break;
          }
          const wh = { ptr: `a.buffers[${weightSlot}]`, dims: [String(N), String(K)] };
          launch(...format.matmul(x, out()), `${count} < ${gpuTensorCoreRows}`);
          launch(...format.dequantize(wh), `${count} >= ${gpuTensorCoreRows}`);
          tensorCoreMatmul({ ptr: `a.buffers[${slot}]`, dims: x.dims }, wh, `linear ${w.name} on tensor cores (${packed} weights as ${W})`);
          break;
        }
        if (cfg.kernelPlan === "cpu") {
          const panels = { ptr: weightRef(w.name, { panels: { rows: N, columns: K } }), dims: [String(Math.ceil(N / panelWidth)), String(K), String(panelWidth)] };
          launch("matmul-blocked", n.bias === null ? "matmulBlocked" : "matmulBiasBlocked", { dtypes: { A, W }, consts: { K } }, [x, panels, ...bias, out()], [], `linear ${w.name}`);
          break;
        }
        const weight = { ptr: weightRef(w.name), dims: [String(N), String(K)] };
        const [file, name] = K % 8 === 0 ? ["matmul-decode", n.bias === null ? "matmulDecode" : "matmulBiasDecode"] : ["matmul", n.bias === null ? "matmul" : "matmulBias"];
        const gemv = (when?: string) => launch(file, name, { dtypes: { A, W }, consts: { K } }, [x, weight, ...bias, out()], [], `linear ${w.name}`, when);
        if (slot === undefined) {
          gemv();
          break;
        }
        gemv(`${count} < ${gpuTensorCoreRows}`);
        tensorCoreMatmul({ ptr: `a.buffers[${slot}]`, dims: x.dims }, weight, `linear ${w.name} on tensor cores`);
        break;
      }
      case "slice":
        launch("elementwise", "sliceColumns", { dtypes: { A }, consts: { offset: n.offset, M: n.size } }, [view(n.x), out()], [], `slice [${n.offset}, ${n.offset + n.size})`);
        break;
      case "gather":
        launch("elementwise", "gatherRows", { dtypes: { A }, consts: { N: width } }, [view(n.index, 0), view(n.x), out()], [], "gather logits rows");
        break;
      case "rope": {
        const lastUse = Math.max(...g.nodes.map((m, i) => (inputsOf(m).includes(n.x) ? i : -1)));
        if (g.nodes[lastUse] !== n) throw new TsvllmError("TSVLLM_ERR_COMPILE", `rope updates its input in place, but value %${n.x} is used after it`);
        launch("rope", n.layout === "neox" ? "ropeNeox" : "ropeGptj", { dtypes: { A }, consts: { R2: n.rotaryDim / 2 } }, [view(n.x, 2), view(n.positions, 0), invFreq(n)], [cfg.ropeMscale[n.ropeKey] ?? 1], `rope ${n.layout}`);
        break;
      }
      case "ropeKvWrite":
        launch("rope-kv-write", "ropeKvWrite", { dtypes: { A, C }, consts: { R2: n.rotaryDim / 2, BS: cfg.blockSize, HD: cfg.headDim, NEOX: n.layout === "neox" ? 1 : 0 } },
          [view(n.qkv), view(n.positions, 0), invFreq(n), out(2), cache("kCache", n.layer), cache("vCache", n.layer), view(n.slotMapping, 0)], [cfg.ropeMscale[n.ropeKey] ?? 1, ...kvScalesOf(n.layer)], `layer ${n.layer}: rope ${n.layout} q, k; store k/v`);
        break;
      case "kvWrite":
        launch("kv-write", "kvWrite", { dtypes: { A, C }, consts: { BS: cfg.blockSize, HD: cfg.headDim } }, [view(n.k, 2), view(n.v, 2), cache("kCache", n.layer), cache("vCache", n.layer), view(n.slotMapping, 0)], kvScalesOf(n.layer), `layer ${n.layer}: store k/v`);
        break;
      case "pagedAttention": {
        const q = view(n.q, 2);
        const heads = byId.get(n.q)!.value.inner[0];
        const consts = { BS: cfg.blockSize, HD: cfg.headDim, G: heads / cfg.numKvHeads };
        const paged = [cache("kCache", n.layer), cache("vCache", n.layer), { ptr: "(void*)a.blockTables", dims: ["a.numSeqs", "a.maxBlocksPerSeq"] }, view(n.seqIdx, 0), view(n.positions, 0)];
        const [kScale, vScale] = kvScalesOf(n.layer);
        const scalars = [n.scale * kScale, n.softcap, n.window];
        // With split-K (GPU plan), the tiled kernel runs only the steps that are not all decode.
        launch("paged-attention-tiled", "pagedAttentionTiled", { dtypes: { A, C }, consts }, [q, ...paged, out(2)], [...scalars, vScale], `layer ${n.layer}: paged attention`, decodeSlot === undefined ? undefined : "a.numTokens != a.numSeqs");
        if (decodeSlot === undefined) break;
        const decode = "a.numTokens == a.numSeqs";
        const perSplit = ["a.numTokens", String(heads), "decodeSplits"];
        const partial = (offset: number, dims: string[]): Arg => ({ ptr: `((float*)a.buffers[${decodeSlot}] + ${offset} * a.numTokens * ${heads} * decodeSplits)`, dims });
        const partials = [partial(0, perSplit), partial(1, perSplit), partial(2, [...perSplit, String(cfg.headDim)])];
        launch("paged-decode", "pagedDecodeSplit", { dtypes: { A, C }, consts }, [q, ...paged, ...partials], scalars, `layer ${n.layer}: decode attention, split-K`, decode);
        launch("paged-decode", "pagedDecodeCombine", { dtypes: { A }, consts: { HD: cfg.headDim } }, [...partials, out(2)], [vScale], `layer ${n.layer}: decode attention, merge splits`, decode);
        break;
      }
      case "attention":
        throw new TsvllmError("TSVLLM_ERR_COMPILE", "attention must be bound to the paged KV cache (bindPagedKV) before emission");
    }
  }
  // Rows sampled where the logits are, so only their token ids leave the device.
  const logits = { ptr: "(void*)a.logits", dims: ["a.numLogitRows", String(cfg.vocabSize)] };
  const perSampleRow = ["sampleRowIndices", "sampleTemperature", "sampleTopK", "sampleTopP", "sampleMinP", "sampleUniform", "sampledTokenIds"].map((name) => ({ ptr: `(void*)a.${name}`, dims: ["a.numSampleRows"] }));
  // The edits run whenever rows are sampled, even a step without any: a decode graph captured
  // without the launch would replay later steps' edits as if there were none.
  const edits = ["editTokenIds", "editBias", "editRepetition", "editSubtract"].map((name) => ({ ptr: `(void*)a.${name}`, dims: ["a.maxLogitEdits"] }));
  launch("sampling", "applyLogitEdits", { dtypes: {}, consts: {} }, [logits, perSampleRow[0], { ptr: "(void*)a.sampleEditOffsets", dims: ["a.numSampleRows + 1"] }, ...edits], [], "logit processors of the sampled rows", "a.numSampleRows > 0");
  launch("sampling", "sampleRows", { dtypes: {}, consts: {} }, [logits, ...perSampleRow], [], "sample rows from their logits", "a.numSampleRows > 0");
  const weightNames = weights.map(weightKey);
  const locals = decodeSlot === undefined ? [] : [`  const int64_t decodeSplits = ${decodeSplits(cfg.numKvHeads)};`];
  const program = (target: "cpu" | "cuda") => render(launches, cfg, weightNames, buffers, g, locals, target);
  return { source: program("cpu"), cudaSource: program("cuda"), kernels: launches.map((l) => l.kernel), weights, buffers };
}

/** [rows, a, b] -> [rows * a, b]: elementwise kernels see a value as rows x features. */
function flatten(arg: Arg): Arg {
  if (arg.dims.length <= 2) return arg;
  return { ptr: arg.ptr, dims: [arg.dims[0], String(arg.dims.slice(1).map(Number).reduce((a, b) => a * b, 1))] };
}

function planBuffers(g: Graph, rootOf: (id: number) => number, activation: Float) {
  const lastUse = new Map<number, number>();
  g.nodes.forEach((n, i) => {
    for (const id of [...inputsOf(n), n.value.id]) lastUse.set(rootOf(id), Math.max(lastUse.get(rootOf(id)) ?? -1, i));
  });
  const slotOf = new Map<number, number>();
  const buffers: ForwardProgram["buffers"] = [];
  const free: number[] = [];
  const output = rootOf(g.output);
  g.nodes.forEach((n, i) => {
    const id = n.value.id;
    if (rootOf(id) === id && id !== output && n.op !== "input" && n.op !== "weight" && n.op !== "kvWrite" && (n.value.rows === "T" || n.value.rows === "L")) {
      const rows = n.value.rows;
      const bytesPerRow = prod(n.value.inner) * bytesOf(n.value.dtype === "i32" ? "i32" : activation);
      const reuse = free.findIndex((s) => buffers[s].rows === rows && buffers[s].bytesPerRow === bytesPerRow);
      const slot = reuse >= 0 ? free.splice(reuse, 1)[0] : buffers.push({ rows, bytesPerRow }) - 1;
      slotOf.set(id, slot);
    }
    // Free buffers whose last use is this node (after allocating this node's output, so a kernel
    // never reads and writes the same buffer unless the graph says so).
    for (const [r, last] of lastUse) if (last === i && slotOf.has(r) && !free.includes(slotOf.get(r)!)) free.push(slotOf.get(r)!);
  });
  return { slotOf, buffers };
}

/** The forward pass's source; `locals` are C++ statements before the first launch (values the launches share). */
function render(launches: Launch[], cfg: ForwardConfig, weightNames: string[], buffers: ForwardProgram["buffers"], g: Graph, locals: string[], target: "cpu" | "cuda"): string {
  const cuda = target === "cuda";
  const body = launches.map((l, i) => {
    const dims = l.pointers.flatMap((p) => p.dims);
    const lines = [`  ${l.when ? `if (${l.when}) ` : ""}{  // ${l.comment}`, `    void* const p[] = {${l.pointers.map((p) => `(void*)${p.ptr}`).join(", ")}};`];
    lines.push(`    const double s[] = {${[...l.scalars.map((v) => (Number.isFinite(v) ? String(v) : "0")), "0"].join(", ")}};`);
    lines.push(`    const int64_t d[] = {${dims.join(", ")}};`);
    lines.push(`    ${l.kernel.symbol}(p, s, d${cuda ? ", stream" : ""});`);
    lines.push(`    if (a.afterLaunch) a.afterLaunch(a.afterLaunchContext, ${i}, ${JSON.stringify(l.comment)});`, `  }`);
    return lines.join("\n");
  });
  const kvBlockBytes = cfg.blockSize * cfg.numKvHeads * cfg.headDim * bytesOf(cfg.kvCacheDType);
  return [
    banner(`models (${cfg.modelName}) traced and lowered by codegen/emit/forward.ts`),
    `#include <algorithm>`,
    `#include "forward_abi.h"`,
    ...(cuda ? [`#include <cuda_runtime.h>`] : []),
    ``,
    ...[...new Set(launches.map((l) => l.kernel.symbol))].map((s) => `extern "C" void ${s}(void* const*, const double*, const int64_t*${cuda ? ", cudaStream_t" : ""});`),
    ``,
    `extern "C" const tsv::BufferSpec tsv_model_buffers[] = {${buffers.map((b) => `{${{ T: 0, L: 1, W: 2 }[b.rows]}, ${b.bytesPerRow}}`).join(", ")}, {0, 0}};`,
    `extern "C" const size_t tsv_model_buffer_count = ${buffers.length};`,
    `extern "C" const char* const tsv_model_weight_names[] = {${weightNames.map((w) => JSON.stringify(w)).join(", ")}, nullptr};`,
    `extern "C" const size_t tsv_model_weight_count = ${weightNames.length};`,
    `extern "C" const int64_t tsv_model_kv_block_bytes = ${kvBlockBytes};`,
    `extern "C" const int64_t tsv_model_num_layers = ${g.numLayers};`,
    `extern "C" const int64_t tsv_model_vocab_size = ${cfg.vocabSize};`,
    ``,
    `extern "C" void tsv_model_forward(const tsv::ForwardArgs& a) {`,
    ...(cuda ? [`  cudaStream_t stream = (cudaStream_t)a.stream;`] : []),
    ...locals,
    ...body,
    `}`,
    ``,
  ].join("\n");
}
