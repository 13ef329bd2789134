// KAST: the kernel syntax tree the frontend reads out of a kernel() function body. Versioned, plain
// JSON (it is hashed for the build cache and dumped with TSVLLM_DUMP=ast), every node with its span.

export const kastVersion = 3;

export interface Span {
  file: string;
  line: number;
  column: number;
}

export type BinaryOp = "+" | "-" | "*" | "/" | "%" | "<" | "<=" | ">" | ">=" | "==" | "!=" | "&&" | "||" | "&" | "|" | "^" | "<<" | ">>";

export type KExpr =
  | { kind: "num"; value: number; text: string; span: Span }
  | { kind: "ident"; name: string; span: Span }
  | { kind: "binary"; op: BinaryOp; left: KExpr; right: KExpr; span: Span }
  | { kind: "unary"; op: "-" | "!"; operand: KExpr; span: Span }
  | { kind: "ternary"; cond: KExpr; then: KExpr; else: KExpr; span: Span }
  | { kind: "call"; callee: string; args: KExpr[]; span: Span }
  | { kind: "at"; target: string; indices: KExpr[]; span: Span }
  | { kind: "dim"; target: string; axis: number; span: Span }
  | { kind: "reduce"; op: "sum" | "max" | "min"; count: KExpr; index: string; term: KExpr; span: Span }
  | { kind: "infinity"; negative: boolean; span: Span };

/** An arrow `(index, k) => term` of a dotTile operand. */
export interface KTileOperand {
  index: string;
  k: string;
  term: KExpr;
}

export type KStmt =
  | { kind: "let"; name: string; mutable: boolean; init: KExpr; span: Span }
  | { kind: "scratch"; name: string; size: KExpr; span: Span }
  | { kind: "assign"; name: string; op: "=" | "+=" | "-=" | "*=" | "/="; value: KExpr; span: Span }
  | { kind: "put"; target: string; indices: KExpr[]; value: KExpr; span: Span }
  | { kind: "prefetch"; target: string; indices: KExpr[]; span: Span }
  | { kind: "for"; index: string; start: KExpr; end: KExpr; step: KExpr; body: KStmt[]; span: Span }
  | { kind: "forEach"; count: KExpr; index: string; body: KStmt[]; span: Span }
  | { kind: "if"; cond: KExpr; then: KStmt[]; else: KStmt[]; span: Span }
  | { kind: "dotTile"; target: string; at: KExpr; rows: KExpr; cols: KExpr; count: KExpr; a: KTileOperand; b: KTileOperand; prefetchAhead?: KExpr; span: Span };

export type KParam =
  | { kind: "global"; name: string; dtype: string; dims: string[]; span: Span }
  | { kind: "scalar"; name: string; type: "f32" | "i32"; span: Span }
  | { kind: "const"; name: string; span: Span };

export interface KernelAst {
  version: typeof kastVersion;
  name: string;
  /** The module that declares the kernel (import path for bindings) and the exported binding name. */
  file: string;
  exportName: string;
  /** Generic dtype variables (function type parameters constrained to Float). */
  dtypeVars: string[];
  params: KParam[];
  grid: KExpr[];
  /** Factors of the launch's work estimate (kernel option `work`); absent: estimated from the body. */
  work?: KExpr[];
  threads: number;
  body: KStmt[];
  span: Span;
}
