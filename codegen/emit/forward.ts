// Lowers a fused graph to kernel launches and emits the model's forward pass as one C++ function
// (runtime/native/forward_abi.h): activation buffers are planned here (values whose lifetimes do
// not overlap share a buffer; views, RoPE and the residual stream update in place), every launch
// uses the kernels' uniform ABI, and the TypeScript side never loops over layers.
import type { Float } from "../../dsl/dtype.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { banner } from "./banner.ts";
import { compileKernel } from "../compile.ts";
import { panelWidth } from "../../dsl/kernels/matmul-blocked.ts";
import type { KernelIR } from "../ir/types.ts";
import { inputsOf, type Graph, type Value } from "../trace/graph.ts";
import { planQuantizedLinears, quantPanelArgs } from "./forward-quantized.ts";
import { bytesOf, gpuNarrowTileRows, gpuTensorCoreRows, prod, weightKey, type Arg, type ForwardConfig, type LaunchArgs, type LoraForwardConfig, type Scalar, type WeightSpec } from "./forward-types.ts";

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

interface Launch {
  kernel: KernelIR;
  pointers: Arg[];
  scalars: Scalar[];
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

const K = (file: string) => `dsl/kernels/${file}.ts`;

export function emitForward(g: Graph, cfg: ForwardConfig): ForwardProgram {
  const byId = new Map(g.nodes.map((n) => [n.value.id, n]));
  const weights: WeightSpec[] = [];
  const weightIndex = new Map<string, number>();
  const weightRef = (name: string, layout: Pick<WeightSpec, "panels" | "packed" | "lora" | "quant"> = {}) => {
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
  const launch = (...[file, exportName, spec, pointers, scalars, comment, when]: LaunchArgs) => {
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
  const quantizedLinear = planQuantizedLinears({ g, byId, cfg, launch, weightRef, tensorCores, addBuffer: (rows, bytesPerRow) => buffers.push({ rows, bytesPerRow }) - 1 });
  // GPU plan: one buffer for split-K decode attention's partials (max, sum, output per split).
  const attentionHeads = g.nodes.flatMap((n) => (n.op === "pagedAttention" ? [byId.get(n.q)!.value.inner[0]] : []));
  const decodeSlot = cfg.kernelPlan === "gpu" && attentionHeads.length > 0 ? buffers.push({ rows: "T", bytesPerRow: Math.max(...attentionHeads) * (cfg.headDim + 2) * 4 }) - 1 : undefined;
  /** The rope's inverse frequencies, a table the addon computes at load (one per rope key). */
  const invFreq = (n: { ropeKey: string; rotaryDim: number }): Arg => ({ ptr: weightRef(`rope.invFreq.${n.ropeKey}`), dims: [String(n.rotaryDim / 2)] });
  /**
   * The layer's KV cache scales: an fp8 e4m3 cache's are the checkpoint's k_scale / v_scale, read
   * from the step's arguments (ForwardArgs.kvCacheScales) so that one compiled forward serves
   * every checkpoint of the shape; other caches are unscaled, as in vLLM.
   */
  const kvScalesOf = (layer: number): [Scalar, Scalar] => (C === "fp8e4m3" ? [`a.kvCacheScales[${2 * layer}]`, `a.kvCacheScales[${2 * layer + 1}]`] : [1, 1]);
  const cache = (which: "kCache" | "vCache", layer: number): Arg => ({ ptr: `a.${which}[${layer}]`, dims: ["a.numBlocks", String(cfg.blockSize), String(cfg.numKvHeads), String(cfg.headDim)] });

  // eps is an f32 kernel scalar: rounding it here gives the same program whether the config spelled
  // it 1e-6 (config.json) or as its f32 value (GGUF), so both share one compiled artifact.
  const launchedGroups = new Set<number>();
  const moeLaunches = moeLauncher(byId, cfg, launch, weightRef, (bytesPerRow) => buffers.push({ rows: "T", bytesPerRow }) - 1);
  const loraLinear = cfg.lora && loraLaunches(g, cfg.lora, cfg.activationDType, cfg.weightDType, launch, weightRef, (bytesPerRow) => buffers.push({ rows: "T", bytesPerRow }) - 1);
  for (const n of g.nodes) {
    const out = (keep = 1) => view(n.value.id, keep);
    const width = n.value.inner[n.value.inner.length - 1];
    const features = prod(n.value.inner);
    switch (n.op) {
      case "input": case "weight": case "view": break;
      case "embedding": {
        const table = byId.get(n.table)!;
        const quant = table.op === "weight" && cfg.kernelPlan === "cpu" ? cfg.quantPanels?.(table.name, width) : undefined;
        if (table.op === "weight" && quant) {
          const { parts, consts, label } = quantPanelArgs(weightRef, table.name, Number(table.value.rows), width, quant);
          launch("embedding", quant.bits === 4 ? "embeddingQ4Panels" : "embeddingQ8Panels", { dtypes: { A }, consts: { D: width, ...consts } }, [view(n.ids), ...parts, out()], [n.scale], `embedding (${label})`);
          break;
        }
        launch("embedding", "embedding", { dtypes: { W, A }, consts: { D: width } }, [view(n.ids), view(n.table), out()], [n.scale], "embedding");
        break;
      }
      case "rmsNorm":
        launch("rms-norm", "rmsNorm", { dtypes: { A, W }, consts: { D: width } }, [view(n.x), view(n.weight), out()], [Math.fround(n.eps), n.weightOffset], "rmsNorm");
        break;
      case "layerNorm":
        launch("layer-norm", "layerNorm", { dtypes: { A, W }, consts: { D: width } }, [view(n.x), view(n.weight), out()], [Math.fround(n.eps)], "layerNorm");
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
        const xh = slot === undefined ? undefined : { ptr: `a.buffers[${slot}]`, dims: x.dims };
        if (quantizedLinear(n, x, out(), xh && ((weight, label) => tensorCoreMatmul(xh, weight, label)), bias[0])) break;
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
        tensorCoreMatmul(xh!, weight, `linear ${w.name} on tensor cores`);
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
        const SINKS = n.sinks === null ? 0 : 1;
        const sinks = n.sinks === null ? absent : view(n.sinks, 0);
        const [kScale, vScale] = kvScalesOf(n.layer);
        // The key scale folds into the score scale.
        const scalars = [kScale === 1 ? n.scale : `${n.scale} * ${kScale}`, n.softcap, n.window];
        // With split-K (GPU plan), the tiled kernel runs only the steps that are not all decode.
        launch("paged-attention-tiled", "pagedAttentionTiled", { dtypes: { A, C, W }, consts: { ...consts, SINKS } }, [q, ...paged, out(2), sinks], [...scalars, vScale], `layer ${n.layer}: paged attention`, decodeSlot === undefined ? undefined : "a.numTokens != a.numSeqs");
        if (decodeSlot === undefined) break;
        const decode = "a.numTokens == a.numSeqs";
        const perSplit = ["a.numTokens", String(heads), "decodeSplits"];
        const partial = (offset: number, dims: string[]): Arg => ({ ptr: `((float*)a.buffers[${decodeSlot}] + ${offset} * a.numTokens * ${heads} * decodeSplits)`, dims });
        const partials = [partial(0, perSplit), partial(1, perSplit), partial(2, [...perSplit, String(cfg.headDim)])];
        launch("paged-decode", "pagedDecodeSplit", { dtypes: { A, C }, consts }, [q, ...paged, ...partials], scalars, `layer ${n.layer}: decode attention, split-K`, decode);
        launch("paged-decode", "pagedDecodeCombine", { dtypes: { A, W }, consts: { HD: cfg.headDim, SINKS } }, [...partials, out(2), sinks], [vScale], `layer ${n.layer}: decode attention, merge splits`, decode);
        break;
      }
      case "moe":
        moeLaunches(n, view(n.x), view(n.router), out(), n.shared === null || n.sharedGate === null ? null : { output: view(n.shared), gate: view(n.sharedGate) });
        break;
      case "attention":
        throw new TsvllmError("TSVLLM_ERR_COMPILE", "attention must be bound to the paged KV cache (bindPagedKV) before emission");
    }
    if (n.op === "linear" && loraLinear) loraLinear(n, view(n.x), view(n.value.id));
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

type LinearNode = Extract<Graph["nodes"][number], { op: "linear" }>;

/**
 * The decoder layers' linears' LoRA deltas, after each matmul: shrink into one shared per-token
 * buffer, expand-add into the linear's output (dsl/kernels/lora.ts). Only steps where a token has
 * an adapter run them (ForwardArgs.loraSlots is null otherwise). Returns what to emit per linear.
 */
function loraLaunches(g: Graph, lora: LoraForwardConfig, A: Float, L: Float, launch: (...args: LaunchArgs) => void, weightRef: (name: string, layout: Pick<WeightSpec, "lora">) => string, addBuffer: (bytesPerRow: number) => number) {
  const weightNames = new Map(g.nodes.flatMap((n) => (n.op === "weight" ? [[n.value.id, n.name] as const] : [])));
  const slicesOf = (n: LinearNode, outFeatures: number) => (n.slices && lora.isFused(weightNames.get(n.weight)!) ? n.slices : [outFeatures]);
  const targets = g.nodes.filter((n): n is LinearNode => n.op === "linear" && /^model\.layers\.\d+\./.test(weightNames.get(n.weight) ?? ""));
  if (targets.some((n) => slicesOf(n, n.value.inner[0]).length > 3)) throw new TsvllmError("TSVLLM_ERR_COMPILE", "LoRA supports fused linears of at most 3 projections");
  const widest = Math.max(0, ...targets.map((n) => slicesOf(n, n.value.inner[0]).length * lora.maxLoraRank));
  const u = widest > 0 ? addBuffer(widest * 4) : -1;
  const R = lora.maxLoraRank;
  const slots = { ptr: "(void*)a.loraSlots", dims: ["a.numTokens"] };
  return (n: LinearNode, x: Arg, out: Arg) => {
    if (!targets.includes(n)) return;
    const name = weightNames.get(n.weight)!;
    const [outFeatures, inFeatures] = [Number(out.dims[1]), Number(x.dims[1])];
    const slices = slicesOf(n, outFeatures);
    const table = (part: "a" | "b") => ({ name, lora: { part, dtype: L, maxLoras: lora.maxLoras, rank: R, inFeatures, outFeatures, slices } });
    const J = slices.length * R;
    const shrunk = { ptr: `a.buffers[${u}]`, dims: [x.dims[0], String(J)] };
    const a = { ptr: weightRef(name, table("a")), dims: [String(lora.maxLoras), String(inFeatures), String(J)] };
    const b = { ptr: weightRef(name, table("b")), dims: [String(lora.maxLoras), String(R), String(outFeatures)] };
    const starts = slices.map((_, i) => slices.slice(0, i).reduce((s, v) => s + v, 0)).slice(1);
    const [S1, S2] = [starts[0] ?? outFeatures, starts[1] ?? outFeatures];
    // Output chunks never straddle two slices: the largest width up to 64 dividing every slice.
    const NC = slices.reduce(gcd, 64);
    const when = "a.loraSlots != nullptr";
    launch("lora", "loraShrink", { dtypes: { A, L }, consts: { K: inFeatures, J } }, [x, slots, a, shrunk], [], `LoRA ${name}: x A^T`, when);
    launch("lora", "loraExpand", { dtypes: { A, L }, consts: { R, S1, S2, NC } }, [shrunk, slots, b, out], [], `LoRA ${name}: += (x A^T) B^T`, when);
  };
}

type MoeNode = Extract<Graph["nodes"][number], { op: "moe" }>;

/**
 * A sparse MoE MLP's four launches (dsl/kernels/moe.ts) over the experts' stacked weights as
 * panels: on the CPU plan, a stack in GGUF blocks as its quantized panels
 * (dsl/kernels/moe-quant-panels.ts; gate and up only when they pack alike), else widened to the
 * weights' dtype. The routing, the experts' hidden rows and their weighted outputs live in four
 * per-token buffers that every layer's MLP shares, made at the first.
 */
function moeLauncher(byId: Map<number, Graph["nodes"][number]>, cfg: ForwardConfig, launch: (...args: LaunchArgs) => void, weightRef: (name: string, layout?: Pick<WeightSpec, "panels" | "packed" | "quant">) => string, addBuffer: (bytesPerRow: number) => number) {
  const [A, W] = [cfg.activationDType, cfg.weightDType];
  /** A stack's quantized panels (rows x columns) where the CPU plan reads it so. */
  const quantized = (name: string, rows: number, columns: number) => {
    const format = cfg.quantPanels?.(name, columns);
    return format && { bits: format.bits, ...quantPanelArgs(weightRef, name, rows, columns, format) };
  };
  let slots: { ids: number; weights: number; hidden: number; outputs: number } | undefined;
  return (n: MoeNode, x: Arg, router: Arg, out: Arg, shared: { output: Arg; gate: Arg } | null) => {
    const weightOf = (id: number) => {
      const w = byId.get(id)!;
      if (w.op !== "weight") throw new TsvllmError("TSVLLM_ERR_COMPILE", `moe %${n.value.id}: the experts' weights must be model parameters, got %${id}`);
      return w;
    };
    const [gate, up, down] = [weightOf(n.gate), weightOf(n.up), weightOf(n.down)];
    const biases = n.biases && { gate: weightOf(n.biases.gate), up: weightOf(n.biases.up), down: weightOf(n.biases.down) };
    const [E, H, KE] = [Number(router.dims[1]), Number(x.dims[1]), n.topK];
    const I = Number(gate.value.rows) / E;
    const block = gate.name.replace(/\.experts\..*$/, "");
    if (I % 32 !== 0 || H % 32 !== 0) throw new TsvllmError("TSVLLM_ERR_COMPILE", `moe ${gate.name}: the experts' intermediate size (${I}) and the hidden size (${H}) must be multiples of 32 (the MoE kernels' two-panel programs)`);
    slots ??= { ids: addBuffer(KE * 4), weights: addBuffer(KE * 4), hidden: addBuffer(KE * I * bytesOf(A)), outputs: addBuffer(KE * H * 4) };
    // ids and weights hold a row per token, hidden and outputs one per (token, chosen expert).
    const buffer = (slot: number, rows: string, columns: number): Arg => ({ ptr: `a.buffers[${slot}]`, dims: [rows, String(columns)] });
    const routes = `a.numTokens * ${KE}`;
    const [ids, weights, hidden, outputs] = [buffer(slots.ids, "a.numTokens", KE), buffer(slots.weights, "a.numTokens", KE), buffer(slots.hidden, routes, I), buffer(slots.outputs, routes, H)];
    const panels = (name: string, rows: number, columns: number): Arg => ({ ptr: weightRef(name, { panels: { rows, columns } }), dims: [String(rows / panelWidth), String(columns), String(panelWidth)] });
    launch("moe", "moeRoute", { dtypes: { A }, consts: { KE, RENORM: n.renormalize ? 1 : 0 } }, [router, ids, weights], [], `MoE ${block}: route to ${KE} of ${E} experts`);
    const bias = (w: { name: string } | undefined, size: number): Arg => (w ? { ptr: weightRef(w.name, {}), dims: [String(size)] } : absent);
    const BIAS = biases ? 1 : 0;
    const { activation } = n;
    const [ACT, alpha, limit, act] = activation.kind === "silu" ? [0, 0, 0, "silu(x gate^T) * x up^T"] : [1, activation.alpha, activation.limit, `clamped SwiGLU (alpha ${activation.alpha}, limit ${activation.limit})`];
    const [gateQ, upQ, downQ] = [quantized(gate.name, E * I, H), quantized(up.name, E * I, H), quantized(down.name, E * H, I)];
    const gateUpBiases = [bias(biases?.gate, E * I), bias(biases?.up, E * I)];
    const gateUpComment = `MoE ${block}: ${act}${biases ? ", biased" : ""}`;
    if (gateQ && upQ && gateQ.label === upQ.label) {
      launch("moe-quant-panels", `moeGateUpQ${gateQ.bits}Panels`, { dtypes: { A, W }, consts: { K: H, I, ...gateQ.consts, ACT, BIAS } }, [x, ids, ...gateQ.parts, ...upQ.parts, hidden, ...gateUpBiases], [alpha, limit], `${gateUpComment} (${gateQ.label})`);
    } else {
      launch("moe", "moeGateUp", { dtypes: { A, W }, consts: { K: H, I, ACT, BIAS } }, [x, ids, panels(gate.name, E * I, H), panels(up.name, E * I, H), hidden, ...gateUpBiases], [alpha, limit], gateUpComment);
    }
    const downComment = `MoE ${block}: weighted h down^T${biases ? " + bias" : ""}`;
    if (downQ) launch("moe-quant-panels", `moeDownQ${downQ.bits}Panels`, { dtypes: { A, W }, consts: { I, N: H, ...downQ.consts, BIAS } }, [hidden, ids, weights, ...downQ.parts, outputs, bias(biases?.down, E * H)], [], `${downComment} (${downQ.label})`);
    else launch("moe", "moeDown", { dtypes: { A, W }, consts: { I, N: H, BIAS } }, [hidden, ids, weights, panels(down.name, E * H, I), outputs, bias(biases?.down, E * H)], [], downComment);
    if (shared) launch("moe", "moeSumShared", { dtypes: { A }, consts: { KE } }, [outputs, shared.output, shared.gate, out], [], `MoE ${block}: sum the experts' outputs and the gated shared expert's`);
    else launch("moe", "moeSum", { dtypes: { A }, consts: { KE } }, [outputs, out], [], `MoE ${block}: sum the experts' outputs`);
  };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** The tensor a kernel reads only under a const switch that is off here (attention sinks, expert biases): none. */
const absent: Arg = { ptr: "nullptr", dims: ["0"] };

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
    lines.push(`    const double s[] = {${[...l.scalars.map((v) => (typeof v === "string" ? v : Number.isFinite(v) ? String(v) : "0")), "0"].join(", ")}};`);
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
