// KAST -> kernel IR: resolves names, infers value types and checks ranks and dtypes. Every error
// names the user's file:line:column. Untyped integer literals adopt the other operand's type; a
// literal with no context must say f32(0) or i32(0), so `1.0` never silently becomes an integer.
import { compileError } from "../frontend/errors.ts";
import type { KExpr, KParam, KStmt, KTileOperand, KernelAst, Span } from "../frontend/kast.ts";
import { dtypeOf } from "../../dsl/dtype.ts";
import type { IExpr, IStmt, KernelIR, MathFn, Param, ValueType } from "./types.ts";

type Binding =
  | { kind: "global"; rank: number; isFloat: boolean }
  | { kind: "scratch" }
  | { kind: "scalar"; type: "f32" | "i32" }
  | { kind: "const" }
  | { kind: "local"; type: ValueType; mutable: boolean }
  | { kind: "dimName"; global: string; axis: number };

/** An expression whose type is still open: an integer literal that may become f32 or i32. */
type Typed = { expr: IExpr; untypedLiteral: boolean };

/**
 * An untyped integer literal given the type its use wants. Such a literal is a number, its
 * negation, or a choice between two of them (`x.dim(0) <= 4 ? 64 : 32`), whose condition stays.
 */
function typeLiteral(e: IExpr, want: ValueType): IExpr {
  switch (e.op) {
    case "const": return { ...e, type: want };
    case "unary": return { ...e, type: want, operand: typeLiteral(e.operand, want) };
    case "select": return { ...e, type: want, then: typeLiteral(e.then, want), else: typeLiteral(e.else, want) };
    default: throw new Error(`internal: a ${e.op} expression is not an untyped literal`);
  }
}

const unaryMath: MathFn[] = ["exp", "log", "sqrt", "rsqrt", "tanh", "sin", "cos", "abs", "floor"];

class Scope {
  private readonly names = new Map<string, Binding>();
  constructor(private readonly parent?: Scope) {}
  get(name: string): Binding | undefined {
    return this.names.get(name) ?? this.parent?.get(name);
  }
  define(name: string, binding: Binding, span: Span): void {
    if (this.names.has(name)) throw compileError(span, `"${name}" is already declared in this scope`);
    // The thread-level lowering gives a kernel one namespace, so an inner name (a reduction's
    // index, say) must not hide an outer one it would overwrite there. Dim names may be taken.
    const outer = this.parent?.get(name);
    if (outer && outer.kind !== "dimName") throw compileError(span, `"${name}" hides a "${name}" declared around it; give it another name`);
    this.names.set(name, binding);
  }
  child(): Scope {
    return new Scope(this);
  }
}

export function checkKernel(ast: KernelAst): KernelIR {
  const root = new Scope();
  const written = new Set<string>();
  collectWrites(ast.body, written);
  const params: Param[] = ast.params.map((p) => toParam(p, ast.dtypeVars, written));
  for (const p of ast.params) root.define(p.name, bindingOf(p, ast.dtypeVars), p.span);
  for (const p of ast.params) {
    if (p.kind !== "global") continue;
    p.dims.forEach((d, axis) => {
      if (!root.get(d)) root.define(d, { kind: "dimName", global: p.name, axis }, p.span);
    });
  }
  const checker = new Checker();
  const grid = ast.grid.map((g) => checker.expect(checker.expr(g, root), "i32", g.span, "grid sizes"));
  const work = ast.work?.map((w) => checker.expect(checker.expr(w, root), "i32", w.span, "work factors"));
  const body = checker.block(ast.body, root.child(), 0);
  return { name: ast.name, symbol: ast.name, source: { file: ast.file, exportName: ast.exportName }, params, dtypeVars: ast.dtypeVars, grid, ...(work ? { work } : {}), threads: ast.threads, body, consts: {} };
}

function collectWrites(stmts: KStmt[], into: Set<string>): void {
  for (const s of stmts) {
    if (s.kind === "put") into.add(s.target);
    if (s.kind === "for" || s.kind === "forEach") collectWrites(s.body, into);
    if (s.kind === "if") {
      collectWrites(s.then, into);
      collectWrites(s.else, into);
    }
  }
}

function containsReduce(e: KExpr): boolean {
  switch (e.kind) {
    case "reduce": return true;
    case "binary": return containsReduce(e.left) || containsReduce(e.right);
    case "unary": return containsReduce(e.operand);
    case "ternary": return containsReduce(e.cond) || containsReduce(e.then) || containsReduce(e.else);
    case "call": return e.args.some(containsReduce);
    case "at": return e.indices.some(containsReduce);
    default: return false;
  }
}

function toParam(p: KParam, dtypeVars: string[], written: Set<string>): Param {
  if (p.kind === "global") {
    if (!dtypeVars.includes(p.dtype) && !dtypeOf(p.dtype)) throw compileError(p.span, `unknown dtype "${p.dtype}"`);
    return { kind: "global", name: p.name, dtype: p.dtype, dims: p.dims, written: written.has(p.name) };
  }
  return p.kind === "scalar" ? { kind: "scalar", name: p.name, type: p.type } : { kind: "const", name: p.name };
}

function bindingOf(p: KParam, dtypeVars: string[]): Binding {
  if (p.kind === "global") return { kind: "global", rank: p.dims.length, isFloat: dtypeVars.includes(p.dtype) || Boolean(dtypeOf(p.dtype)?.isFloat) };
  return p.kind === "scalar" ? { kind: "scalar", type: p.type } : { kind: "const" };
}

class Checker {
  /** `depth` counts enclosing forEach bodies (thread-level code); program-level loops do not add to it. */
  block(stmts: KStmt[], scope: Scope, depth: number): IStmt[] {
    return stmts.map((s) => this.stmt(s, scope, depth));
  }

  stmt(s: KStmt, scope: Scope, depth: number): IStmt {
    switch (s.kind) {
      case "let": {
        const t = this.expr(s.init, scope);
        if (t.untypedLiteral) throw compileError(s.span, `the type of "${s.name}" is ambiguous: write f32(${s.init.kind === "num" ? s.init.text : "..."}) or i32(...)`);
        scope.define(s.name, { kind: "local", type: t.expr.type, mutable: s.mutable }, s.span);
        return { op: "decl", name: s.name, type: t.expr.type, init: t.expr, span: s.span };
      }
      case "scratch": {
        const size = this.expect(this.expr(s.size, scope), "i32", s.span, "scratch size");
        scope.define(s.name, { kind: "scratch" }, s.span);
        return { op: "scratchDecl", name: s.name, size, span: s.span };
      }
      case "assign": {
        const b = scope.get(s.name);
        if (!b || b.kind !== "local") throw compileError(s.span, `"${s.name}" is not a local variable`);
        if (!b.mutable) throw compileError(s.span, `"${s.name}" is const`);
        const rhs = this.expect(this.expr(s.value, scope), b.type, s.span, `assignment to ${b.type} variable "${s.name}"`);
        const current: IExpr = { op: "var", type: b.type, name: s.name };
        const value: IExpr = s.op === "=" ? rhs : this.arith(s.op[0] as "+" | "-" | "*" | "/", { expr: current, untypedLiteral: false }, { expr: rhs, untypedLiteral: false }, s.span).expr;
        return { op: "assign", name: s.name, value, span: s.span };
      }
      case "put": return this.put(s, scope);
      case "prefetch": {
        const b = scope.get(s.target);
        if (b?.kind !== "global") throw compileError(s.span, `.prefetch() is for Global parameters; "${s.target}" is not one`);
        return { op: "prefetch", global: s.target, indices: this.indices(s.target, b.rank, s.indices, scope, s.span), span: s.span };
      }
      case "for": {
        const inner = scope.child();
        const start = this.expect(this.expr(s.start, scope), "i32", s.span, "loop start");
        const end = this.expect(this.expr(s.end, scope), "i32", s.span, "loop end");
        const step = this.expect(this.expr(s.step, scope), "i32", s.span, "loop step");
        inner.define(s.index, { kind: "local", type: "i32", mutable: false }, s.span);
        return { op: "for", index: s.index, start, end, step, body: this.block(s.body, inner, depth), span: s.span };
      }
      case "forEach": {
        const inner = scope.child();
        const count = this.expect(this.expr(s.count, scope), "i32", s.span, "forEach count");
        inner.define(s.index, { kind: "local", type: "i32", mutable: false }, s.span);
        return { op: "forEach", index: s.index, count, body: this.block(s.body, inner, depth + 1), span: s.span };
      }
      case "dotTile": {
        if (depth > 0) throw compileError(s.span, "dotTile() runs at program level: it cannot be inside forEach");
        if (scope.get(s.target)?.kind !== "scratch") throw compileError(s.span, `dotTile() writes into a scratch; "${s.target}" is not one`);
        const size = (x: KExpr, what: string) => this.expect(this.expr(x, scope), "i32", x.span, what);
        const operand = (o: KTileOperand, what: string) => {
          const inner = scope.child();
          inner.define(o.index, { kind: "local", type: "i32", mutable: false }, s.span);
          inner.define(o.k, { kind: "local", type: "i32", mutable: false }, s.span);
          if (containsReduce(o.term)) throw compileError(o.term.span, `the ${what} operand of dotTile() cannot contain a reduction`);
          return { index: o.index, k: o.k, term: this.expect(this.expr(o.term, inner), "f32", o.term.span, `dotTile ${what} operand`) };
        };
        return { op: "dotTile", scratch: s.target, at: size(s.at, "dotTile offset"), rows: size(s.rows, "dotTile rows"), cols: size(s.cols, "dotTile cols"), count: size(s.count, "dotTile count"), a: operand(s.a, "row"), b: operand(s.b, "column"), ...(s.prefetchAhead ? { prefetchAhead: size(s.prefetchAhead, "dotTile prefetchAhead") } : {}), span: s.span };
      }
      case "if": {
        const cond = this.expect(this.expr(s.cond, scope), "bool", s.span, "if condition");
        return { op: "if", cond, then: this.block(s.then, scope.child(), depth), else: this.block(s.else, scope.child(), depth), span: s.span };
      }
    }
  }

  private put(s: Extract<KStmt, { kind: "put" }>, scope: Scope): IStmt {
    const b = scope.get(s.target);
    if (b?.kind === "scratch") {
      if (s.indices.length !== 1) throw compileError(s.span, `scratch "${s.target}" is 1-D: put(i, value)`);
      const index = this.expect(this.expr(s.indices[0], scope), "i32", s.span, "scratch index");
      return { op: "scratchStore", scratch: s.target, index, value: this.expect(this.expr(s.value, scope), "f32", s.span, `store into scratch "${s.target}"`), span: s.span };
    }
    if (b?.kind !== "global") throw compileError(s.span, `"${s.target}" is not a Global parameter or scratch`);
    const indices = this.indices(s.target, b.rank, s.indices, scope, s.span);
    const want: ValueType = b.isFloat ? "f32" : "i32";
    const value = this.expr(s.value, scope);
    if (!value.untypedLiteral && value.expr.type !== want) {
      throw compileError(s.span, `dtype mismatch: storing a ${value.expr.type} value into ${b.isFloat ? "float" : "integer"} tensor "${s.target}"; convert with ${want}(...)`);
    }
    return { op: "store", global: s.target, indices, value: this.expect(value, want, s.span, "store"), span: s.span };
  }

  private indices(target: string, rank: number, idx: KExpr[], scope: Scope, span: Span): IExpr[] {
    if (idx.length !== rank) throw compileError(span, `shape mismatch: "${target}" has ${rank} dim${rank === 1 ? "" : "s"} but is indexed with ${idx.length}`);
    return idx.map((i) => this.expect(this.expr(i, scope), "i32", i.span, `index into "${target}"`));
  }

  expect(t: Typed, want: ValueType, span: Span, what: string): IExpr {
    if (t.untypedLiteral && want !== "bool") return typeLiteral(t.expr, want);
    if (t.expr.type === want) return t.expr;
    if (t.expr.type === "i32" && want === "f32") return { op: "cast", type: "f32", operand: t.expr };
    throw compileError(span, `dtype mismatch: ${what} must be ${want}, got ${t.expr.type}`);
  }

  expr(e: KExpr, scope: Scope): Typed {
    const typed = (expr: IExpr): Typed => ({ expr, untypedLiteral: false });
    switch (e.kind) {
      case "num": {
        const isInt = Number.isInteger(e.value) && !/[.eE]/.test(e.text);
        return { expr: { op: "const", type: isInt ? "i32" : "f32", value: e.value }, untypedLiteral: isInt };
      }
      case "infinity": return typed({ op: "const", type: "f32", value: e.negative ? -Infinity : Infinity });
      case "ident": {
        const b = scope.get(e.name);
        if (!b) throw compileError(e.span, `unknown name "${e.name}"`);
        if (b.kind === "local") return typed({ op: "var", type: b.type, name: e.name });
        if (b.kind === "scalar") return typed({ op: "param", type: b.type, name: e.name });
        if (b.kind === "const") return typed({ op: "param", type: "i32", name: e.name });
        if (b.kind === "dimName") return typed({ op: "dim", type: "i32", global: b.global, axis: b.axis });
        throw compileError(e.span, `"${e.name}" is memory: read it with .at(...)`);
      }
      case "dim": {
        const b = scope.get(e.target);
        if (b?.kind !== "global") throw compileError(e.span, `"${e.target}" is not a Global parameter`);
        if (e.axis < 0 || e.axis >= b.rank) throw compileError(e.span, `shape mismatch: "${e.target}" has ${b.rank} dims, no axis ${e.axis}`);
        return typed({ op: "dim", type: "i32", global: e.target, axis: e.axis });
      }
      case "at": {
        const b = scope.get(e.target);
        if (b?.kind === "scratch") {
          if (e.indices.length !== 1) throw compileError(e.span, `scratch "${e.target}" is 1-D`);
          return typed({ op: "scratchLoad", type: "f32", scratch: e.target, index: this.expect(this.expr(e.indices[0], scope), "i32", e.span, "scratch index") });
        }
        if (b?.kind !== "global") throw compileError(e.span, `"${e.target}" is not a Global parameter or scratch`);
        return typed({ op: "load", type: b.isFloat ? "f32" : "i32", global: e.target, indices: this.indices(e.target, b.rank, e.indices, scope, e.span) });
      }
      case "binary": return this.binary(e, scope);
      case "unary": {
        const t = this.expr(e.operand, scope);
        if (e.op === "!") return typed({ op: "unary", type: "bool", kind: "not", operand: this.expect(t, "bool", e.span, "operand of !") });
        if (t.expr.type === "bool") throw compileError(e.span, "cannot negate a boolean");
        return { expr: t.expr.op === "const" ? { ...t.expr, value: -t.expr.value } : { op: "unary", type: t.expr.type, kind: "neg", operand: t.expr }, untypedLiteral: t.untypedLiteral };
      }
      case "ternary": {
        const cond = this.expect(this.expr(e.cond, scope), "bool", e.span, "condition");
        const [a, b] = this.unify(this.expr(e.then, scope), this.expr(e.else, scope), e.span);
        return { expr: { op: "select", type: a.expr.type, cond, then: a.expr, else: b.expr }, untypedLiteral: a.untypedLiteral && b.untypedLiteral };
      }
      case "reduce": {
        const inner = scope.child();
        const count = this.expect(this.expr(e.count, scope), "i32", e.span, "reduction count");
        inner.define(e.index, { kind: "local", type: "i32", mutable: false }, e.span);
        const term = this.expect(this.expr(e.term, inner), "f32", e.span, "reduced term");
        return typed({ op: "reduce", type: "f32", kind: e.op, count, index: e.index, term });
      }
      case "call": return this.call(e, scope);
    }
  }

  private unify(a: Typed, b: Typed, span: Span): [Typed, Typed] {
    if (a.untypedLiteral && !b.untypedLiteral) return [{ expr: this.expect(a, b.expr.type, span, "operand"), untypedLiteral: false }, b];
    if (b.untypedLiteral && !a.untypedLiteral) return [a, { expr: this.expect(b, a.expr.type, span, "operand"), untypedLiteral: false }];
    if (a.expr.type === b.expr.type) return [a, b];
    if (a.expr.type === "bool" || b.expr.type === "bool") throw compileError(span, `dtype mismatch: ${a.expr.type} and ${b.expr.type}`);
    return [{ expr: this.expect(a, "f32", span, "operand"), untypedLiteral: false }, { expr: this.expect(b, "f32", span, "operand"), untypedLiteral: false }];
  }

  private arith(op: "+" | "-" | "*" | "/" | "%", l: Typed, r: Typed, span: Span): Typed {
    const [a, b] = this.unify(l, r, span);
    if (a.expr.type === "bool") throw compileError(span, `arithmetic "${op}" on booleans`);
    if (op === "/" && a.expr.type === "i32") throw compileError(span, "dtype mismatch: `/` on two i32 values; use idiv(a, b) (truncates) or f32(a) / b");
    if (op === "%" && a.expr.type === "f32") throw compileError(span, "dtype mismatch: `%` needs i32 operands");
    if (a.expr.op === "const" && b.expr.op === "const" && op !== "/" ) {
      const v = op === "+" ? a.expr.value + b.expr.value : op === "-" ? a.expr.value - b.expr.value : op === "*" ? a.expr.value * b.expr.value : a.expr.value % b.expr.value;
      return { expr: { op: "const", type: a.expr.type, value: v }, untypedLiteral: a.untypedLiteral && b.untypedLiteral };
    }
    return { expr: { op: "binary", type: a.expr.type, kind: op, left: a.expr, right: b.expr }, untypedLiteral: false };
  }

  private binary(e: Extract<KExpr, { kind: "binary" }>, scope: Scope): Typed {
    const l = this.expr(e.left, scope);
    const r = this.expr(e.right, scope);
    if (e.op === "&&" || e.op === "||") {
      return { expr: { op: "binary", type: "bool", kind: e.op, left: this.expect(l, "bool", e.span, e.op), right: this.expect(r, "bool", e.span, e.op) }, untypedLiteral: false };
    }
    if (e.op === "+" || e.op === "-" || e.op === "*" || e.op === "/" || e.op === "%") return this.arith(e.op, l, r, e.span);
    if (e.op === "&" || e.op === "|" || e.op === "^" || e.op === "<<" || e.op === ">>") {
      const bits = (t: Typed) => {
        if (!t.untypedLiteral && t.expr.type !== "i32") throw compileError(e.span, `dtype mismatch: bitwise "${e.op}" needs i32 operands, got ${t.expr.type}`);
        return this.expect(t, "i32", e.span, "bitwise operand");
      };
      return { expr: { op: "binary", type: "i32", kind: e.op, left: bits(l), right: bits(r) }, untypedLiteral: false };
    }
    const [a, b] = this.unify(l, r, e.span);
    const la = a.untypedLiteral ? this.expect(a, "i32", e.span, "operand") : a.expr;
    const rb = b.untypedLiteral ? this.expect(b, "i32", e.span, "operand") : b.expr;
    return { expr: { op: "binary", type: "bool", kind: e.op, left: la, right: rb }, untypedLiteral: false };
  }

  private call(e: Extract<KExpr, { kind: "call" }>, scope: Scope): Typed {
    const args = e.args.map((a) => this.expr(a, scope));
    const typed = (expr: IExpr): Typed => ({ expr, untypedLiteral: false });
    const arity = (n: number) => {
      if (args.length !== n) throw compileError(e.span, `${e.callee}() takes ${n} argument${n === 1 ? "" : "s"}`);
    };
    switch (e.callee) {
      case "pid": {
        arity(1);
        const a = args[0].expr;
        if (a.op !== "const" || ![0, 1, 2].includes(a.value)) throw compileError(e.span, "pid(axis) takes 0, 1 or 2");
        return typed({ op: "pid", type: "i32", axis: a.value });
      }
      case "f32": arity(1); return typed(args[0].untypedLiteral ? this.expect(args[0], "f32", e.span, "f32()") : args[0].expr.type === "f32" ? args[0].expr : { op: "cast", type: "f32", operand: this.expect(args[0], "i32", e.span, "f32()") });
      case "i32": arity(1); return typed(args[0].untypedLiteral || args[0].expr.type === "i32" ? this.expect(args[0], "i32", e.span, "i32()") : { op: "cast", type: "i32", operand: this.expect(args[0], "f32", e.span, "i32()") });
      case "cdiv":
      case "idiv":
        arity(2);
        return typed({ op: "math", type: "i32", fn: e.callee, args: args.map((a) => this.expect(a, "i32", e.span, `${e.callee}() operand`)) });
      case "max":
      case "min": {
        arity(2);
        const [a, b] = this.unify(args[0], args[1], e.span);
        const type = a.untypedLiteral && b.untypedLiteral ? "i32" : a.expr.type;
        return typed({ op: "math", type, fn: e.callee, args: [this.expect(a, type, e.span, "operand"), this.expect(b, type, e.span, "operand")] });
      }
      case "i8":
        arity(1);
        return typed({ op: "math", type: "i32", fn: "i8", args: [this.expect(args[0], "i32", e.span, "i8() operand")] });
      case "f16FromBits":
        arity(1);
        return typed({ op: "math", type: "f32", fn: "f16FromBits", args: [this.expect(args[0], "i32", e.span, "f16FromBits() operand")] });
      case "floatKey":
        arity(1);
        return typed({ op: "math", type: "i32", fn: "floatKey", args: [this.expect(args[0], "f32", e.span, "floatKey() operand")] });
      case "pow":
        arity(2);
        return typed({ op: "math", type: "f32", fn: "pow", args: args.map((a) => this.expect(a, "f32", e.span, "pow() operand")) });
      default:
        if ((unaryMath as string[]).includes(e.callee)) {
          arity(1);
          return typed({ op: "math", type: "f32", fn: e.callee as MathFn, args: [this.expect(args[0], "f32", e.span, `${e.callee}() operand`)] });
        }
        throw compileError(e.span, `unknown function "${e.callee}" (kernels can call the built-ins in dsl/primitives.ts)`);
    }
  }
}
