// The forward pass's linears over quantized weights (GGUF blocks, GPTQ int4, fp8): which of them
// run fp8 W8A8, the buffers they need, and their launches. On the CPU plan GGUF blocks are read as
// quantized panels (ForwardConfig.quantPanels) at every row count, a bias added after (addBias).
// On the GPU plan quantized weights stay as they are (its quantized kernels have no bias form: a
// linear with a bias reads its weight widened); under gpuTensorCoreRows rows their own GEMV-shaped
// kernel reads them; from there on, over f16/bf16 weights, the step writes them out in W once,
// into a weight buffer, for the tensor-core matmul. fp8 W8A8 linears read their e4m3 weights at
// every row count.
import { q4_0, q8_0, type BlockFormat } from "../../runtime/loader/gguf-quants.ts";
import type { PackedDType, WeightFormat } from "../../runtime/loader/types.ts";
import { panelWidth } from "../../dsl/kernels/matmul-blocked.ts";
import type { QuantPanelFormat } from "../../dsl/kernels/matmul-quant-panels.ts";
import type { Graph } from "../trace/graph.ts";
import { bytesOf, gpuNarrowTileRows, gpuTensorCoreRows, prod, type Arg, type ForwardConfig, type KernelLaunch, type LaunchArgs, type QuantPanelPart, type WeightSpec } from "./forward-types.ts";

type GraphNode = Graph["nodes"][number];
type LinearNode = Extract<GraphNode, { op: "linear" }>;
type RowKind = "T" | "L";

export interface QuantizedLinearContext {
  g: Graph;
  byId: Map<number, GraphNode>;
  cfg: ForwardConfig;
  /** Adds an activation buffer (rows per step kind, bytes per row) and returns its slot. */
  addBuffer: (rows: RowKind | "W", bytesPerRow: number) => number;
  launch: (...args: LaunchArgs) => void;
  weightRef: (name: string, layout?: Pick<WeightSpec, "panels" | "packed" | "quant">) => string;
  /** Whether larger steps run dense linears on f16/bf16 tensor cores (the GPU plan over f16/bf16 weights). */
  tensorCores: boolean;
}

/**
 * A [N, K] weight's quantized panel tensors (values, scales, offsets) as kernel arguments, the
 * consts the 8-bit kernels take (G; MG = K and one zero row of offsets for formats without them),
 * and a label.
 */
export function quantPanelArgs(weightRef: QuantizedLinearContext["weightRef"], name: string, N: number, K: number, format: QuantPanelFormat): { parts: Arg[]; consts: Record<string, number>; label: string } {
  const P = Math.ceil(N / panelWidth);
  const quant = { ...format, rows: N, columns: K };
  const part = (packed: QuantPanelPart, dims: number[]): Arg => ({ ptr: weightRef(name, { packed, quant }), dims: [P, ...dims, panelWidth].map(String) });
  const G = format.groupSize;
  const MG = format.hasMin ? G : K;
  const label = `${format.bits}-bit panels, groups of ${G}${format.hasMin ? " with offsets" : ""}`;
  if (format.bits === 4) return { parts: [part("qpanels.values", [K / 2]), part("qpanels.scales", [K / G]), part("qpanels.mins", [K / G])], consts: {}, label };
  return { parts: [part("qpanels.values", [K]), part("qpanels.scales", [K / G]), part("qpanels.mins", [K / MG])], consts: { G, MG }, label };
}

/** The GGUF block formats (runtime/loader/gguf-quants.ts: 32 values a block). */
const packedFormats: Record<PackedDType, BlockFormat> = { q8_0, q4_0 };

/**
 * Plans the graph's quantized linears (their buffers are added now, after the caller's own) and
 * returns the emitter of one linear's launches.
 */
export function planQuantizedLinears(ctx: QuantizedLinearContext) {
  const { g, byId, cfg, launch, weightRef } = ctx;
  const A = cfg.activationDType;
  const W = cfg.weightDType;
  const weightNameOf = (id: number) => {
    const w = byId.get(id)!;
    return w.op === "weight" ? w.name : "";
  };
  const widthOf = (n: LinearNode) => prod(byId.get(n.x)!.value.inner);
  const packedOf = (n: LinearNode) => (n.bias === null ? cfg.packedWeight?.(weightNameOf(n.weight)) : undefined);
  /**
   * Whether a linear runs fp8 W8A8 (cfg.fp8Activations); block-wise ones need dynamic activations
   * and whole blocks along K (a short last block stays weight-only).
   */
  const w8a8 = (n: LinearNode) => {
    if (cfg.kernelPlan !== "gpu" || cfg.fp8Activations === undefined || packedOf(n) !== "fp8e4m3") return false;
    return !cfg.fp8BlockSize || (cfg.fp8Activations === "dynamic" && widthOf(n) % cfg.fp8BlockSize[1] === 0);
  };
  const linears = g.nodes.filter((n): n is LinearNode => n.op === "linear");
  // One buffer holding the largest quantized linear's weights in W.
  const quantizedBytes = linears.flatMap((n) => (!w8a8(n) && packedOf(n) ? [Number(byId.get(n.weight)!.value.rows) * widthOf(n) * bytesOf(W)] : []));
  const weightSlot = ctx.tensorCores && quantizedBytes.length > 0 ? ctx.addBuffer("W", Math.max(...quantizedBytes)) : undefined;
  // fp8 W8A8: per row kind, one buffer for a linear's input in e4m3 and one for its scales (one a
  // row, or one a row and group of BK inputs).
  const fp8Widths = new Map<RowKind, number>();
  for (const n of linears) {
    const rows = byId.get(n.x)!.value.rows;
    if (w8a8(n) && (rows === "T" || rows === "L")) fp8Widths.set(rows, Math.max(fp8Widths.get(rows) ?? 0, widthOf(n)));
  }
  const scalesPerRow = (K: number) => (cfg.fp8BlockSize ? K / cfg.fp8BlockSize[1] : 1);
  const fp8Slots = new Map([...fp8Widths].map(([rows, width]) => [rows, { xq: ctx.addBuffer(rows, width), xScale: ctx.addBuffer(rows, 4 * scalesPerRow(width)) }]));

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
  const formatOf = (packed: WeightFormat, name: string, N: number, K: number) => {
    const part = (packedAs: WeightSpec["packed"], dims: number[]) => ({ ptr: weightRef(name, { packed: packedAs }), dims: dims.map(String) });
    if (packed === "gptq") {
      const G = cfg.gptqGroupSize ?? K;
      const tensors = [part("gptq.qweight", [K / 8, N]), part("gptq.scales", [K / G, N]), part("gptq.qzeros", [K / G, N / 8])];
      return {
        matmul: (x: Arg, y: Arg): KernelLaunch => ["int4-matmul", "matmulInt4", { dtypes: { A, S: "f16" }, consts: { K, G } }, [x, ...tensors, y], [], `linear ${name} (gptq int4)`],
        dequantize: (wh: Arg): KernelLaunch => ["int4-matmul", "dequantizeInt4", { dtypes: { H: W, S: "f16" }, consts: { K, G } }, [...tensors, wh], [], `linear ${name}: gptq int4 weights as ${W}`],
      };
    }
    if (packed === "fp8e4m3" && cfg.fp8BlockSize) {
      const [BN, BK] = cfg.fp8BlockSize;
      const tensors = [part(packed, [N, K]), part("fp8.scale", [N / BN, Math.ceil(K / BK)])];
      return {
        matmul: (x: Arg, y: Arg): KernelLaunch => ["fp8-matmul", "matmulFp8BlockWeights", { dtypes: { A }, consts: { K, BN, BK } }, [x, ...tensors, y], [], `linear ${name} (fp8 weights, ${BN} x ${BK} blocks)`],
        dequantize: (wh: Arg): KernelLaunch => ["fp8-matmul", "dequantizeFp8BlockWeights", { dtypes: { H: W }, consts: { K, BN, BK } }, [...tensors, wh], [], `linear ${name}: fp8 weights as ${W}`],
      };
    }
    if (packed === "fp8e4m3") {
      const tensors = [part(packed, [N, K]), part("fp8.scale", [N])];
      return {
        matmul: (x: Arg, y: Arg): KernelLaunch => ["fp8-matmul", "matmulFp8Weights", { dtypes: { A }, consts: { K } }, [x, ...tensors, y], [], `linear ${name} (fp8 weights)`],
        dequantize: (wh: Arg): KernelLaunch => ["fp8-matmul", "dequantizeFp8Weights", { dtypes: { H: W }, consts: { K } }, [...tensors, wh], [], `linear ${name}: fp8 weights as ${W}`],
      };
    }
    const blocks = part(packed, [N, (K / packedFormats[packed].valuesPerBlock) * packedFormats[packed].bytesPerBlock]);
    const suffix = packed === "q8_0" ? "Q8_0" : "Q4_0";
    return {
      matmul: (x: Arg, y: Arg): KernelLaunch => ["gguf-matmul", `matmul${suffix}`, { dtypes: { A }, consts: { K } }, [x, blocks, y], [], `linear ${name} (${packed} blocks)`],
      dequantize: (wh: Arg): KernelLaunch => ["gguf-matmul", `dequantize${suffix}`, { dtypes: { H: W }, consts: { K } }, [blocks, wh], [], `linear ${name}: ${packed} blocks as ${W}`],
    };
  };

  /** The CPU plan's matmul over a weight's quantized panels. */
  const quantPanelMatmul = (name: string, N: number, K: number, format: QuantPanelFormat, x: Arg, y: Arg): KernelLaunch => {
    const { parts, consts, label } = quantPanelArgs(weightRef, name, N, K, format);
    return ["matmul-quant-panels", format.bits === 4 ? "matmulQ4Panels" : "matmulQ8Panels", { dtypes: { A }, consts: { K, ...consts } }, [x, ...parts, y], [], `linear ${name} (${label})`];
  };

  /**
   * Emits the launches of y = x W^T over a quantized weight and returns true; returns false (and
   * emits nothing) for a dense one. tensorCoreMatmul, where larger steps run on tensor cores, adds
   * the launches of the dense f16/bf16 matmul over a weight in W from gpuTensorCoreRows rows.
   */
  return (n: LinearNode, x: Arg, y: Arg, tensorCoreMatmul?: (weight: Arg, label: string) => void, bias?: Arg): boolean => {
    const name = weightNameOf(n.weight);
    const N = Number(byId.get(n.weight)!.value.rows);
    const K = Number(x.dims[1]);
    const rows = byId.get(n.x)!.value.rows;
    const fp8Slot = rows === "T" || rows === "L" ? fp8Slots.get(rows) : undefined;
    if (w8a8(n) && fp8Slot) {
      w8a8Linear(name, N, K, x, y, fp8Slot);
      return true;
    }
    const quant = cfg.kernelPlan === "cpu" ? cfg.quantPanels?.(name, K) : undefined;
    if (quant) {
      launch(...quantPanelMatmul(name, N, K, quant, x, y));
      if (bias) launch("elementwise", "addBias", { dtypes: { A, W }, consts: { N } }, [y, bias], [], `linear ${name}: + bias`);
      return true;
    }
    const packed = packedOf(n);
    if (!packed) return false;
    const format = formatOf(packed, name, N, K);
    if (!tensorCoreMatmul || weightSlot === undefined) {
      launch(...format.matmul(x, y));
      return true;
    }
    const count = x.dims[0];
    const wh = { ptr: `a.buffers[${weightSlot}]`, dims: [String(N), String(K)] };
    launch(...format.matmul(x, y), `${count} < ${gpuTensorCoreRows}`);
    launch(...format.dequantize(wh), `${count} >= ${gpuTensorCoreRows}`);
    tensorCoreMatmul(wh, `linear ${name} on tensor cores (${packed} weights as ${W})`);
    return true;
  };
}
