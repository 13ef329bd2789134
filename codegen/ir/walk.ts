// Generic bottom-up rewriting of IR trees: passes give a function for the nodes they change.
import type { IExpr, IStmt } from "./types.ts";

export function mapExpr(e: IExpr, f: (e: IExpr) => IExpr): IExpr {
  const m = (x: IExpr) => mapExpr(x, f);
  switch (e.op) {
    case "binary": return f({ ...e, left: m(e.left), right: m(e.right) });
    case "unary": return f({ ...e, operand: m(e.operand) });
    case "select": return f({ ...e, cond: m(e.cond), then: m(e.then), else: m(e.else) });
    case "math": return f({ ...e, args: e.args.map(m) });
    case "cast": return f({ ...e, operand: m(e.operand) });
    case "reduce": return f({ ...e, count: m(e.count), term: m(e.term) });
    case "load": return f({ ...e, indices: e.indices.map(m) });
    case "scratchLoad": return f({ ...e, index: m(e.index) });
    default: return f(e);
  }
}

export function mapStmtExprs(s: IStmt, f: (e: IExpr) => IExpr): IStmt {
  const m = (x: IExpr) => mapExpr(x, f);
  const b = (xs: IStmt[]) => xs.map((x) => mapStmtExprs(x, f));
  switch (s.op) {
    case "decl": return { ...s, init: m(s.init) };
    case "assign": return { ...s, value: m(s.value) };
    case "store": return { ...s, indices: s.indices.map(m), value: m(s.value) };
    case "scratchDecl": return { ...s, size: m(s.size) };
    case "scratchStore": return { ...s, index: m(s.index), value: m(s.value) };
    case "for": return { ...s, start: m(s.start), end: m(s.end), step: m(s.step), body: b(s.body) };
    case "forEach": return { ...s, count: m(s.count), body: b(s.body) };
    case "if": return { ...s, cond: m(s.cond), then: b(s.then), else: b(s.else) };
    case "dotTile": return { ...s, rows: m(s.rows), cols: m(s.cols), count: m(s.count), a: { ...s.a, term: m(s.a.term) }, b: { ...s.b, term: m(s.b.term) } };
  }
}

/** Replaces every read of the variables in `values` (tile indices bound to constants, renamed loop indices). */
export function substituteVars(e: IExpr, values: ReadonlyMap<string, IExpr>): IExpr {
  return mapExpr(e, (x) => (x.op === "var" && values.has(x.name) ? values.get(x.name)! : x));
}

export function forEachExpr(e: IExpr, visit: (e: IExpr) => void): void {
  mapExpr(e, (x) => {
    visit(x);
    return x;
  });
}
