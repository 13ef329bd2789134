// Invariants every IR must keep between passes: names defined before use, operand types
// consistent, no reduce outside an expression that a backend can lower. Passes call verify() on
// their output in tests; a failure is a compiler bug, not a user error.
import type { IExpr, IStmt, KernelIR, ValueType } from "./types.ts";

export class IRVerifyError extends Error {}

export function verify(ir: KernelIR): void {
  const globals = new Set(ir.params.filter((p) => p.kind === "global").map((p) => p.name));
  const scalars = new Map(ir.params.flatMap((p) => (p.kind === "scalar" ? [[p.name, p.type] as const] : p.kind === "const" ? [[p.name, "i32"] as const] : [])));
  const checkExpr = (e: IExpr, vars: Map<string, ValueType>, scratches: Set<string>): void => {
    const fail = (m: string) => { throw new IRVerifyError(`${ir.symbol}: ${m}`); };
    switch (e.op) {
      case "var": if (vars.get(e.name) !== e.type) fail(`variable ${e.name} used as ${e.type}, declared ${vars.get(e.name)}`); break;
      case "param": if (scalars.get(e.name) !== e.type) fail(`parameter ${e.name} used as ${e.type}`); break;
      case "dim": case "load": if (!globals.has(e.global)) fail(`unknown global ${e.global}`); break;
      case "scratchLoad": if (!scratches.has(e.scratch)) fail(`unknown scratch ${e.scratch}`); break;
      case "binary":
        if (e.left.type !== e.right.type) fail(`binary ${e.kind} on ${e.left.type} and ${e.right.type}`);
        break;
      default: break;
    }
    const sub = (x: IExpr) => checkExpr(x, vars, scratches);
    if (e.op === "binary") { sub(e.left); sub(e.right); }
    if (e.op === "unary" || e.op === "cast") sub(e.operand);
    if (e.op === "select") { sub(e.cond); sub(e.then); sub(e.else); }
    if (e.op === "math") e.args.forEach(sub);
    if (e.op === "load") e.indices.forEach(sub);
    if (e.op === "scratchLoad") sub(e.index);
    if (e.op === "reduce") { sub(e.count); checkExpr(e.term, new Map([...vars, [e.index, "i32"]]), scratches); }
  };
  const checkBlock = (stmts: IStmt[], outer: Map<string, ValueType>, scratches: Set<string>): void => {
    const vars = new Map(outer);
    const sc = new Set(scratches);
    for (const s of stmts) {
      const e = (x: IExpr) => checkExpr(x, vars, sc);
      switch (s.op) {
        case "decl": e(s.init); vars.set(s.name, s.type); break;
        case "assign": e(s.value); if (vars.get(s.name) !== s.value.type) throw new IRVerifyError(`${ir.symbol}: assign ${s.name} type`); break;
        case "store": s.indices.forEach(e); e(s.value); break;
        case "prefetch": s.indices.forEach(e); break;
        case "scratchDecl": e(s.size); sc.add(s.name); break;
        case "scratchStore": e(s.index); e(s.value); break;
        case "for": e(s.start); e(s.end); e(s.step); checkBlock(s.body, new Map([...vars, [s.index, "i32"]]), sc); break;
        case "forEach": e(s.count); checkBlock(s.body, new Map([...vars, [s.index, "i32"]]), sc); break;
        case "if": e(s.cond); checkBlock(s.then, vars, sc); checkBlock(s.else, vars, sc); break;
        case "dotTile":
          if (!sc.has(s.scratch)) throw new IRVerifyError(`${ir.symbol}: dotTile into unknown scratch ${s.scratch}`);
          e(s.at); e(s.rows); e(s.cols); e(s.count);
          checkExpr(s.a.term, new Map([...vars, [s.a.index, "i32"], [s.a.k, "i32"]]), sc);
          checkExpr(s.b.term, new Map([...vars, [s.b.index, "i32"], [s.b.k, "i32"]]), sc);
          break;
      }
    }
  };
  [...ir.grid, ...(ir.work ?? [])].forEach((g) => checkExpr(g, new Map(), new Set()));
  checkBlock(ir.body, new Map(), new Set());
}
