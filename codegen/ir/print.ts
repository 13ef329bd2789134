// A readable text form of the kernel IR, for TSVLLM_DUMP=ir and for snapshot tests.
import type { IExpr, IStmt, KernelIR } from "./types.ts";
import { substituteVars } from "./walk.ts";

/** Prints both operands of a dotTile over the same reduction index. */
function substituteKIndex(term: IExpr, from: string, to: string): IExpr {
  return from === to ? term : substituteVars(term, new Map([[from, { op: "var", type: "i32", name: to }]]));
}

export function printExpr(e: IExpr): string {
  switch (e.op) {
    case "const": return e.type === "f32" ? `${e.value}f` : String(e.value);
    case "param": return `%${e.name}`;
    case "var": return e.name;
    case "pid": return `pid.${e.axis}`;
    case "dim": return `${e.global}.dim${e.axis}`;
    case "binary": return `(${printExpr(e.left)} ${e.kind} ${printExpr(e.right)})`;
    case "unary": return `${e.kind === "neg" ? "-" : "!"}${printExpr(e.operand)}`;
    case "select": return `select(${printExpr(e.cond)}, ${printExpr(e.then)}, ${printExpr(e.else)})`;
    case "math": return `${e.fn}(${e.args.map(printExpr).join(", ")})`;
    case "cast": return `${e.type}(${printExpr(e.operand)})`;
    case "reduce": return `reduce.${e.kind}(${e.index} < ${printExpr(e.count)}: ${printExpr(e.term)})`;
    case "load": return `${e.global}[${e.indices.map(printExpr).join(", ")}]`;
    case "scratchLoad": return `${e.scratch}[${printExpr(e.index)}]`;
  }
}

function printStmt(s: IStmt, indent: string): string[] {
  const inner = (xs: IStmt[]) => xs.flatMap((x) => printStmt(x, indent + "  "));
  switch (s.op) {
    case "decl": return [`${indent}${s.name}: ${s.type} = ${printExpr(s.init)}`];
    case "assign": return [`${indent}${s.name} = ${printExpr(s.value)}`];
    case "store": return [`${indent}${s.global}[${s.indices.map(printExpr).join(", ")}] <- ${printExpr(s.value)}`];
    case "prefetch": return [`${indent}prefetch ${s.global}[${s.indices.map(printExpr).join(", ")}]`];
    case "scratchDecl": return [`${indent}scratch ${s.name}[${printExpr(s.size)}]`];
    case "scratchStore": return [`${indent}${s.scratch}[${printExpr(s.index)}] <- ${printExpr(s.value)}`];
    case "for": return [`${indent}for ${s.index} in ${printExpr(s.start)}..${printExpr(s.end)} step ${printExpr(s.step)}:`, ...inner(s.body)];
    case "forEach": return [`${indent}forEach ${s.index} < ${printExpr(s.count)}:`, ...inner(s.body)];
    case "if": return [`${indent}if ${printExpr(s.cond)}:`, ...inner(s.then), ...(s.else.length ? [`${indent}else:`, ...inner(s.else)] : [])];
    case "dotTile": return [`${indent}${s.scratch}[${printExpr(s.at)} + ${s.a.index} * ${printExpr(s.cols)} + ${s.b.index}] += dotTile(${s.a.index} < ${printExpr(s.rows)}, ${s.b.index} < ${printExpr(s.cols)}, ${s.a.k} < ${printExpr(s.count)}: ${printExpr(s.a.term)} * ${printExpr(substituteKIndex(s.b.term, s.b.k, s.a.k))}${s.prefetchAhead ? `, prefetch ${printExpr(s.prefetchAhead)} ahead` : ""})`];
  }
}

export function printKernel(ir: KernelIR): string {
  const params = ir.params.map((p) => (p.kind === "global" ? `${p.name}: ${p.dtype}[${p.dims.join(", ")}]${p.written ? " out" : ""}` : p.kind === "scalar" ? `${p.name}: ${p.type}` : `${p.name}: const`));
  return [`kernel ${ir.symbol}(${params.join(", ")}) grid [${ir.grid.map(printExpr).join(", ")}]${ir.work ? ` work [${ir.work.map(printExpr).join(", ")}]` : ""} threads ${ir.threads}`, ...ir.body.flatMap((s) => printStmt(s, "  "))].join("\n");
}
