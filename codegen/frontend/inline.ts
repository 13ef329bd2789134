// Inlining of DSL helper functions: a plain TypeScript function whose body is kernel statements,
// called as a statement from a kernel (or another helper), is spliced into the caller's KAST. In
// JS it is just a call, so the reference needs nothing; here its parameters are replaced by the
// argument expressions and its own locals are renamed apart from the caller's. Memory parameters
// (Global, scratch) must receive a name; scalar parameters are values and cannot be assigned,
// exactly as with JavaScript's pass-by-value.
import { compileError } from "./errors.ts";
import type { KExpr, KStmt, KTileOperand, Span } from "./kast.ts";

/** Names a helper body declares (locals, loop and reduction indices), which get renamed apart. */
function declaredNames(stmts: KStmt[], into: Set<string>): Set<string> {
  const expr = (e: KExpr): void => {
    switch (e.kind) {
      case "reduce": into.add(e.index); expr(e.count); expr(e.term); break;
      case "binary": expr(e.left); expr(e.right); break;
      case "unary": expr(e.operand); break;
      case "ternary": expr(e.cond); expr(e.then); expr(e.else); break;
      case "call": e.args.forEach(expr); break;
      case "at": e.indices.forEach(expr); break;
      default: break;
    }
  };
  for (const s of stmts) {
    switch (s.kind) {
      case "let": into.add(s.name); expr(s.init); break;
      case "scratch": into.add(s.name); break;
      case "assign": expr(s.value); break;
      case "put": s.indices.forEach(expr); expr(s.value); break;
      case "prefetch": s.indices.forEach(expr); break;
      case "for": into.add(s.index); declaredNames(s.body, into); break;
      case "forEach": into.add(s.index); expr(s.count); declaredNames(s.body, into); break;
      case "if": expr(s.cond); declaredNames(s.then, into); declaredNames(s.else, into); break;
      case "dotTile": [s.a, s.b].forEach((o) => { into.add(o.index); into.add(o.k); expr(o.term); }); break;
    }
  }
  return into;
}

export function inlineHelper(helper: string, params: string[], args: KExpr[], body: KStmt[], suffix: string, call: Span): KStmt[] {
  if (args.length !== params.length) throw compileError(call, `${helper}() takes ${params.length} argument${params.length === 1 ? "" : "s"}, got ${args.length}`);
  const bound = new Map(params.map((p, i) => [p, args[i]]));
  const declared = declaredNames(body, new Set());
  const shadowed = params.find((p) => declared.has(p));
  if (shadowed) throw compileError(call, `${helper}() declares "${shadowed}" again inside its body; rename one of them`);
  const renamed = new Map([...declared].map((n) => [n, `${n}_${suffix}`]));
  const name = (n: string) => renamed.get(n) ?? n;
  const memory = (n: string): string => {
    const arg = bound.get(n);
    if (!arg) return name(n);
    if (arg.kind !== "ident") throw compileError(call, `${helper}(): the argument for "${n}" is read as memory, so it must be a name`);
    return arg.name;
  };
  const expr = (e: KExpr): KExpr => {
    switch (e.kind) {
      case "ident": return bound.get(e.name) ?? { ...e, name: name(e.name) };
      case "binary": return { ...e, left: expr(e.left), right: expr(e.right) };
      case "unary": return { ...e, operand: expr(e.operand) };
      case "ternary": return { ...e, cond: expr(e.cond), then: expr(e.then), else: expr(e.else) };
      case "call": return { ...e, args: e.args.map(expr) };
      case "at": return { ...e, target: memory(e.target), indices: e.indices.map(expr) };
      case "dim": return { ...e, target: memory(e.target) };
      case "reduce": return { ...e, index: name(e.index), count: expr(e.count), term: expr(e.term) };
      default: return e;
    }
  };
  const operand = (o: KTileOperand): KTileOperand => ({ index: name(o.index), k: name(o.k), term: expr(o.term) });
  const stmt = (s: KStmt): KStmt => {
    switch (s.kind) {
      case "let": return { ...s, name: name(s.name), init: expr(s.init) };
      case "scratch": return { ...s, name: name(s.name), size: expr(s.size) };
      case "assign":
        if (bound.has(s.name)) throw compileError(s.span, `${helper}() assigns to its parameter "${s.name}"; parameters are values, declare a local instead`);
        return { ...s, name: name(s.name), value: expr(s.value) };
      case "put": return { ...s, target: memory(s.target), indices: s.indices.map(expr), value: expr(s.value) };
      case "prefetch": return { ...s, target: memory(s.target), indices: s.indices.map(expr) };
      case "for": return { ...s, index: name(s.index), start: expr(s.start), end: expr(s.end), step: expr(s.step), body: s.body.map(stmt) };
      case "forEach": return { ...s, index: name(s.index), count: expr(s.count), body: s.body.map(stmt) };
      case "if": return { ...s, cond: expr(s.cond), then: s.then.map(stmt), else: s.else.map(stmt) };
      case "dotTile": return { ...s, target: memory(s.target), at: expr(s.at), rows: expr(s.rows), cols: expr(s.cols), count: expr(s.count), a: operand(s.a), b: operand(s.b), ...(s.prefetchAhead ? { prefetchAhead: expr(s.prefetchAhead) } : {}) };
    }
  };
  return body.map(stmt);
}
