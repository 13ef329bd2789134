// The graph IR a model's forward() is traced into: SSA values (tensors with symbolic row counts)
// produced by ops. It sits above the kernel IR: lowering turns each op into kernel launches.
// Ops come in groups: Input (input, weight), Elementwise (add, mul, silu, gelu, scale, softcap),
// Norm (rmsNorm, addRmsNorm, layerNorm), Matmul (linear), Movement (view, slice, gather), Attention
// (rope, attention -> kvWrite + pagedAttention after bindPagedKV), Fused (siluMul, geluMul, and
// ropeKvWrite: a layer's q/k rope and cache store read from its qkv projection, its value q).
import type { Float } from "../../dsl/dtype.ts";

/** Row counts are symbolic: T = tokens this step, L = rows whose logits are wanted. */
export type RowDim = "T" | "L";
export type ElementDType = Float | "i32";

export interface Value {
  id: number;
  dtype: ElementDType;
  rows: RowDim | number;
  /** Inner dims (row-major), e.g. [heads, headDim] or [hidden]. */
  inner: number[];
}

export type InputName = "inputIds" | "positions" | "slotMapping" | "seqIdx" | "blockTables" | "logitsIndices";

export type Op =
  | { op: "input"; name: InputName }
  | { op: "weight"; name: string }
  | { op: "embedding"; ids: number; table: number; scale: number }
  | { op: "rmsNorm"; x: number; weight: number; eps: number; weightOffset: number }
  | { op: "layerNorm"; x: number; weight: number; eps: number }
  | { op: "addRmsNorm"; x: number; residual: number; weight: number; eps: number; weightOffset: number; /** which result this value is */ part: "residual" | "normed"; group: number }
  | { op: "add"; a: number; b: number }
  | { op: "mul"; a: number; b: number }
  | { op: "silu"; x: number }
  | { op: "geluTanh"; x: number }
  | { op: "siluMul"; gateUp: number }
  | { op: "geluTanhMul"; gateUp: number }
  | { op: "scale"; x: number; factor: number }
  | { op: "softcap"; x: number; cap: number }
  | { op: "linear"; x: number; weight: number; bias: number | null; /** a fused linear's projections' output sizes (Linear.outputSlices) */ slices?: number[] }
  | { op: "view"; x: number }
  | { op: "slice"; x: number; offset: number; size: number }
  | { op: "gather"; x: number; index: number }
  | { op: "rope"; x: number; positions: number; layout: "neox" | "gptj"; rotaryDim: number; ropeKey: string }
  /** sinks: GPT-OSS's per-head sink logits [heads] (dsl/kernels/paged-attention.ts), a weight; null without. */
  | { op: "attention"; layer: number; q: number; k: number; v: number; scale: number; softcap: number; window: number; sinks: number | null }
  | { op: "kvWrite"; layer: number; k: number; v: number; slotMapping: number }
  | { op: "ropeKvWrite"; layer: number; qkv: number; positions: number; slotMapping: number; layout: "neox" | "gptj"; rotaryDim: number; ropeKey: string }
  | { op: "pagedAttention"; layer: number; q: number; blockTables: number; seqIdx: number; positions: number; after: number; scale: number; softcap: number; window: number; sinks: number | null }
  /**
   * A sparse MoE MLP (dsl/kernels/moe.ts): router logits [T, E], experts stacked by rows (gate, up
   * [E * I, H]; down [E * H, I]); with a shared expert (Qwen2-MoE), its output [T, H] added scaled
   * by sigmoid of its gate logit [T, 1]. GPT-OSS's experts have biases (gate, up [E * I]; down
   * [E * H]; all three or none) and a clamped SwiGLU (MoeActivation).
   */
  | { op: "moe"; x: number; router: number; gate: number; up: number; down: number; topK: number; renormalize: boolean; shared: number | null; sharedGate: number | null; biases: { gate: number; up: number; down: number } | null; activation: MoeActivation };

/** An expert's act(gate) * up: SiLU, or GPT-OSS's min(g, limit) sigmoid(alpha min(g, limit)) (clamp(u, -limit, limit) + 1). */
export type MoeActivation = { kind: "silu" } | { kind: "swigluOai"; alpha: number; limit: number };

export type Node = Op & { value: Value };

export interface Graph {
  nodes: Node[];
  output: number;
  /** Weight name -> expected shape, dtype decided at load. */
  weights: Map<string, number[]>;
  numLayers: number;
}

export function inputsOf(n: Op): number[] {
  switch (n.op) {
    case "input": case "weight": return [];
    case "embedding": return [n.ids, n.table];
    case "rmsNorm": case "layerNorm": return [n.x, n.weight];
    case "addRmsNorm": return [n.x, n.residual, n.weight];
    case "add": case "mul": return [n.a, n.b];
    case "silu": case "geluTanh": case "scale": case "softcap": case "view": case "slice": return [n.x];
    case "siluMul": case "geluTanhMul": return [n.gateUp];
    case "linear": return n.bias === null ? [n.x, n.weight] : [n.x, n.weight, n.bias];
    case "gather": return [n.x, n.index];
    case "rope": return [n.x, n.positions];
    case "attention": return [n.q, n.k, n.v, ...(n.sinks === null ? [] : [n.sinks])];
    case "kvWrite": return [n.k, n.v, n.slotMapping];
    case "ropeKvWrite": return [n.qkv, n.positions, n.slotMapping];
    case "pagedAttention": return [n.q, n.blockTables, n.seqIdx, n.positions, n.after, ...(n.sinks === null ? [] : [n.sinks])];
    case "moe": return [n.x, n.router, n.gate, n.up, n.down, ...(n.shared === null || n.sharedGate === null ? [] : [n.shared, n.sharedGate]), ...(n.biases ? [n.biases.gate, n.biases.up, n.biases.down] : [])];
  }
}

/** The op fields that name values (printed as %id); the other numbers are attributes (layer, offset, rotaryDim...). */
const valueFields = new Set(["ids", "table", "x", "weight", "residual", "a", "b", "gateUp", "bias", "index", "positions", "q", "k", "v", "slotMapping", "blockTables", "seqIdx", "after", "qkv", "router", "gate", "up", "down", "shared", "sharedGate", "sinks"]);

export function printGraph(g: Graph): string {
  const shape = (v: Value) => `${v.dtype}[${[v.rows, ...v.inner].join(", ")}]`;
  return g.nodes
    .map((n) => {
      const { value, op, ...attrs } = n;
      const args = Object.entries(attrs).map(([k, v]) => `${k}=${typeof v === "number" && valueFields.has(k) ? `%${v}` : JSON.stringify(v)}`);
      return `%${value.id}: ${shape(value)} = ${op}(${args.join(", ")})`;
    })
    .concat(`return %${g.output}`)
    .join("\n");
}
