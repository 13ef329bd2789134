// Binds a kernel's Const parameters and dtype variables, folds constants, and mangles the symbol:
// rmsNorm with A=f32, W=bf16, D=64 becomes rmsNorm__f32_bf16__D64.
import { dtypeOf, type DTypeName } from "../../dsl/dtype.ts";
import { fixedDimSize } from "../../dsl/global.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { mapExpr, mapStmtExprs } from "./walk.ts";
import type { IExpr, IStmt, KernelIR, Param } from "./types.ts";

export interface Specialization {
  dtypes: Record<string, DTypeName>;
  consts: Record<string, number>;
}

export function mangle(name: string, spec: Specialization, dtypeVars: string[], constNames: string[]): string {
  const d = dtypeVars.map((v) => spec.dtypes[v]).join("_");
  const c = constNames.map((n) => `${n}${spec.consts[n]}`).join("_");
  return [name, d, c].filter(Boolean).join("__");
}

export function specialize(ir: KernelIR, spec: Specialization): KernelIR {
  const constNames = ir.params.filter((p) => p.kind === "const").map((p) => p.name);
  for (const v of ir.dtypeVars) {
    const d = spec.dtypes[v];
    if (!d || !dtypeOf(d)?.isFloat) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${ir.name}: dtype variable ${v} needs a float dtype, got ${String(d)}`);
  }
  for (const c of constNames) {
    if (!Number.isInteger(spec.consts[c])) throw new TsvllmError("TSVLLM_ERR_COMPILE", `${ir.name}: Const ${c} needs an integer value`);
  }
  const params: Param[] = ir.params.map((p) => (p.kind === "global" && ir.dtypeVars.includes(p.dtype) ? { ...p, dtype: spec.dtypes[p.dtype] } : p));
  const dimConsts = new Map<string, number>();
  for (const p of params) if (p.kind === "global") p.dims.forEach((d, axis) => {
    const size = fixedDimSize(d, spec.consts);
    if (size !== undefined) dimConsts.set(`${p.name}:${axis}`, size);
  });
  const bind = (e: IExpr): IExpr => {
    if (e.op === "param" && e.name in spec.consts && constNames.includes(e.name)) return { op: "const", type: "i32", value: spec.consts[e.name] };
    if (e.op === "dim" && dimConsts.has(`${e.global}:${e.axis}`)) return { op: "const", type: "i32", value: dimConsts.get(`${e.global}:${e.axis}`)! };
    return fold(e);
  };
  return {
    ...ir,
    symbol: mangle(ir.name, spec, ir.dtypeVars, constNames),
    params,
    grid: ir.grid.map((g) => mapExpr(g, bind)),
    ...(ir.work ? { work: ir.work.map((w) => mapExpr(w, bind)) } : {}),
    body: propagateConstantLocals(ir.body.map((s) => mapStmtExprs(s, bind))),
    consts: { ...spec.consts },
  };
}

/** Every statement of `stmts`, nested ones included. */
function allStatements(stmts: IStmt[]): IStmt[] {
  return stmts.flatMap((s) => [s, ...(s.op === "for" || s.op === "forEach" ? allStatements(s.body) : s.op === "if" ? allStatements([...s.then, ...s.else]) : [])]);
}

/**
 * A local declared once, never assigned, whose initialiser folds to a constant (`const TQ =
 * max(1, idiv(64, G))`) is replaced by that constant and its declaration dropped, so sizes computed
 * from Consts can size scratch and tiles. Repeats until nothing changes, since one constant can make
 * another foldable.
 */
function propagateConstantLocals(body: IStmt[]): IStmt[] {
  for (;;) {
    const statements = allStatements(body);
    const declarations = new Map<string, number>();
    for (const s of statements) if (s.op === "decl") declarations.set(s.name, (declarations.get(s.name) ?? 0) + 1);
    const assigned = new Set(statements.flatMap((s) => (s.op === "assign" ? [s.name] : [])));
    const constants = new Map<string, IExpr>();
    for (const s of statements) {
      if (s.op === "decl" && s.type === "i32" && s.init.op === "const" && declarations.get(s.name) === 1 && !assigned.has(s.name)) constants.set(s.name, s.init);
    }
    if (constants.size === 0) return body;
    body = withoutDeclarations(body, constants).map((s) => mapStmtExprs(s, (e) => fold(e.op === "var" && constants.has(e.name) ? constants.get(e.name)! : e)));
  }
}

function withoutDeclarations(stmts: IStmt[], names: ReadonlyMap<string, IExpr>): IStmt[] {
  return stmts.flatMap((s): IStmt[] => {
    if (s.op === "decl" && names.has(s.name)) return [];
    if (s.op === "for" || s.op === "forEach") return [{ ...s, body: withoutDeclarations(s.body, names) }];
    if (s.op === "if") return [{ ...s, then: withoutDeclarations(s.then, names), else: withoutDeclarations(s.else, names) }];
    return [s];
  });
}

/** Integer functions of constants fold too, so tile and scratch sizes may be computed from Consts. */
const integerFolds: Record<string, (a: number, b: number) => number> = {
  cdiv: (a, b) => Math.ceil(a / b),
  idiv: (a, b) => Math.trunc(a / b),
  min: Math.min,
  max: Math.max,
};

/** One node with constant operands as a constant (its children already folded); else unchanged. */
export function fold(e: IExpr): IExpr {
  if (e.op === "binary" && e.left.op === "const" && e.right.op === "const" && e.type !== "bool") {
    const [a, b] = [e.left.value, e.right.value];
    const bits = e.type === "i32" ? { "&": a & b, "|": a | b, ">>": a >> b, "<<": a << b } : {};
    const v = { "+": a + b, "-": a - b, "*": a * b, "/": a / b, "%": a % b, ...bits }[e.kind as "+"];
    if (v !== undefined && (e.type === "f32" || Number.isInteger(v))) return { op: "const", type: e.type, value: e.type === "f32" ? Math.fround(v) : v };
  }
  if (e.op === "cast" && e.operand.op === "const") return { op: "const", type: e.type, value: e.type === "i32" ? Math.trunc(e.operand.value) : e.operand.value };
  if (e.op === "math" && e.type === "i32" && e.fn in integerFolds && e.args.every((a) => a.op === "const")) {
    const [a, b] = e.args.map((x) => (x as { value: number }).value);
    return { op: "const", type: "i32", value: integerFolds[e.fn](a, b) };
  }
  return e;
}
