// The kernel IR: typed, immutable trees. Ops come in groups (Index, Elementwise, Reduce, Memory,
// Control); every expression carries its value type, every statement the span of the source line
// it came from, so later errors still point at the user's code.
import type { Span } from "../frontend/kast.ts";
import type { DTypeName } from "../../dsl/dtype.ts";

export type ValueType = "f32" | "i32" | "bool";

export type ElementwiseOp = "+" | "-" | "*" | "/" | "%" | "<" | "<=" | ">" | ">=" | "==" | "!=" | "&&" | "||" | "&" | "|" | "^" | "<<" | ">>";
export type UnaryOp = "neg" | "not";
export type MathFn = "exp" | "log" | "sqrt" | "rsqrt" | "tanh" | "sin" | "cos" | "pow" | "abs" | "floor" | "max" | "min" | "cdiv" | "idiv" | "i8" | "f16FromBits" | "floatKey";

export type ReduceKind = "sum" | "max" | "min";

/** One side of a dotTile: `term` reads row/column `index` at reduction step `k`. */
export interface TileOperand {
  index: string;
  k: string;
  term: IExpr;
}

export type IExpr =
  // Index group
  | { op: "const"; type: ValueType; value: number }
  | { op: "param"; type: "f32" | "i32"; name: string }
  | { op: "var"; type: ValueType; name: string }
  | { op: "pid"; type: "i32"; axis: number }
  | { op: "dim"; type: "i32"; global: string; axis: number }
  // Elementwise group
  | { op: "binary"; type: ValueType; kind: ElementwiseOp; left: IExpr; right: IExpr }
  | { op: "unary"; type: ValueType; kind: UnaryOp; operand: IExpr }
  | { op: "select"; type: ValueType; cond: IExpr; then: IExpr; else: IExpr }
  | { op: "math"; type: ValueType; fn: MathFn; args: IExpr[] }
  | { op: "cast"; type: "f32" | "i32"; operand: IExpr }
  // Reduce group
  | { op: "reduce"; type: "f32"; kind: ReduceKind; count: IExpr; index: string; term: IExpr }
  // Memory group
  | { op: "load"; type: "f32" | "i32"; global: string; indices: IExpr[] }
  | { op: "scratchLoad"; type: "f32"; scratch: string; index: IExpr };

export type IStmt =
  | { op: "decl"; name: string; type: ValueType; init: IExpr; span: Span }
  | { op: "assign"; name: string; value: IExpr; span: Span }
  | { op: "store"; global: string; indices: IExpr[]; value: IExpr; span: Span }
  /** A hint that global[indices] is read soon; no value changes (the GPU lowering drops it). */
  | { op: "prefetch"; global: string; indices: IExpr[]; span: Span }
  | { op: "scratchDecl"; name: string; size: IExpr; span: Span }
  | { op: "scratchStore"; scratch: string; index: IExpr; value: IExpr; span: Span }
  | { op: "for"; index: string; start: IExpr; end: IExpr; step: IExpr; body: IStmt[]; span: Span }
  | { op: "forEach"; index: string; count: IExpr; body: IStmt[]; span: Span }
  | { op: "if"; cond: IExpr; then: IStmt[]; else: IStmt[]; span: Span }
  /** scratch[at + i * cols + j] += sum over k < count of a(i, k) * b(j, k); rows and cols are constants once specialised. */
  | { op: "dotTile"; scratch: string; at: IExpr; rows: IExpr; cols: IExpr; count: IExpr; a: TileOperand; b: TileOperand; prefetchAhead?: IExpr; span: Span };

export interface GlobalParam {
  kind: "global";
  name: string;
  /** A concrete dtype, or a dtype variable before specialisation. */
  dtype: DTypeName | string;
  dims: string[];
  /** Whether the kernel stores into it (decides const-ness of the pointer). */
  written: boolean;
}
export interface ScalarParam {
  kind: "scalar";
  name: string;
  type: "f32" | "i32";
}
export interface ConstParam {
  kind: "const";
  name: string;
}
export type Param = GlobalParam | ScalarParam | ConstParam;

export interface KernelIR {
  name: string;
  /** Mangled name once specialised, e.g. rmsNorm__f32_bf16__D64. */
  symbol: string;
  source: { file: string; exportName: string };
  params: Param[];
  dtypeVars: string[];
  grid: IExpr[];
  /** Factors of the launch's work estimate (i32 each; their product may exceed i32). */
  work?: IExpr[];
  threads: number;
  body: IStmt[];
  /** Bound compile-time values (empty before specialisation). */
  consts: Record<string, number>;
}
