// Generic bottom-up rewriting of IR trees: passes give a function for the nodes they change.
import type { IExpr, IStmt } from "./types.ts";

/** Rebuilds `e` with `f` applied to each direct operand (one level, no recursion). */
export function mapChildren(e: IExpr, f: (e: IExpr) => IExpr): IExpr {
  switch (e.op) {
    case "binary": return { ...e, left: f(e.left), right: f(e.right) };
    case "unary": return { ...e, operand: f(e.operand) };
    case "select": return { ...e, cond: f(e.cond), then: f(e.then), else: f(e.else) };
    case "math": return { ...e, args: e.args.map(f) };
    case "cast": return { ...e, operand: f(e.operand) };
    case "reduce": return { ...e, count: f(e.count), term: f(e.term) };
    case "load": return { ...e, indices: e.indices.map(f) };
    case "scratchLoad": return { ...e, index: f(e.index) };
    default: return e;
  }
}

export function mapExpr(e: IExpr, f: (e: IExpr) => IExpr): IExpr {
  return f(mapChildren(e, (x) => mapExpr(x, f)));
}

export function mapStmtExprs(s: IStmt, f: (e: IExpr) => IExpr): IStmt {
  const m = (x: IExpr) => mapExpr(x, f);
  const b = (xs: IStmt[]) => xs.map((x) => mapStmtExprs(x, f));
  switch (s.op) {
    case "decl": return { ...s, init: m(s.init) };
    case "assign": return { ...s, value: m(s.value) };
    case "store": return { ...s, indices: s.indices.map(m), value: m(s.value) };
    case "prefetch": return { ...s, indices: s.indices.map(m) };
    case "scratchDecl": return { ...s, size: m(s.size) };
    case "scratchStore": return { ...s, index: m(s.index), value: m(s.value) };
    case "for": return { ...s, start: m(s.start), end: m(s.end), step: m(s.step), body: b(s.body) };
    case "forEach": return { ...s, count: m(s.count), body: b(s.body) };
    case "if": return { ...s, cond: m(s.cond), then: b(s.then), else: b(s.else) };
    case "dotTile": return { ...s, at: m(s.at), rows: m(s.rows), cols: m(s.cols), count: m(s.count), a: { ...s.a, term: m(s.a.term) }, b: { ...s.b, term: m(s.b.term) }, ...(s.prefetchAhead ? { prefetchAhead: m(s.prefetchAhead) } : {}) };
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
