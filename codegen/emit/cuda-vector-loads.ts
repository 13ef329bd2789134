// Vector loads for the CUDA emitter. A thread-level loop `for (j = 0; j < V; j++)` (assigning
// locals or storing to scratch, as the tensor-core staging does) whose global
// reads are all at `base + j` in their last index, with base a multiple of V and that axis's row
// length a multiple of V, reads V consecutive elements starting at a multiple of V. Every global
// buffer a CUDA kernel gets is its own cudaMalloc allocation (256-byte aligned; runtime/native), so
// those V elements can come in 16-byte (or narrower) loads, issued before the loop, rather than V
// scalar loads nvcc cannot merge (it does not know the pointer's alignment); only buffers the
// kernel does not write, since the loads use the read-only cache. The loop itself and
// its summation order are unchanged, so the result is the thread IR's (the emulator's) to the bit.
import type { IExpr } from "../ir/types.ts";
import { forEachExpr, mapExpr, substituteVars } from "../ir/walk.ts";
import type { TStmt } from "../lower/thread-ir.ts";
import { pointerType, type ExprPrinter } from "./c-expr.ts";

type ForStmt = Extract<TStmt, { op: "for" }>;
type LoadExpr = Extract<IExpr, { op: "load" }>;

const elementBytes: Record<string, number> = { f32: 4, i32: 4, f16: 2, bf16: 2, fp8e4m3: 1, fp8e5m2: 1 };

const constValue = (e: IExpr) => (e.op === "const" ? Number(e.value) : undefined);

/** Whether e is provably a multiple of v: a constant one, a product with such a factor, or a sum of such terms. */
function multipleOf(e: IExpr, v: number): boolean {
  const c = constValue(e);
  if (c !== undefined) return Number.isInteger(c) && c % v === 0;
  if (e.op !== "binary") return false;
  if (e.kind === "*") return multipleOf(e.left, v) || multipleOf(e.right, v);
  return e.kind === "+" && multipleOf(e.left, v) && multipleOf(e.right, v);
}

const readsVar = (e: IExpr, name: string) => {
  let found = false;
  forEachExpr(e, (x) => {
    if (x.op === "var" && x.name === name) found = true;
  });
  return found;
};

/** The terms of a sum, however it nests. */
const sumTerms = (e: IExpr): IExpr[] => (e.op === "binary" && e.kind === "+" ? [...sumTerms(e.left), ...sumTerms(e.right)] : [e]);

/** `index` = base + j with j the loop variable as one of its summed terms (at any depth of the sum): base, or undefined. */
function baseOf(index: IExpr, loopVar: string): IExpr | undefined {
  const terms = sumTerms(index);
  const at = terms.findIndex((t) => t.op === "var" && t.name === loopVar);
  if (at < 0 || terms.length < 2) return undefined;
  return terms.filter((_, i) => i !== at).reduce((left, right): IExpr => ({ op: "binary", type: "i32", kind: "+", left, right }));
}

/** The loop's expressions, or undefined when its body does more than assign locals and store to scratch. */
function bodyExprs(body: TStmt[]): IExpr[] | undefined {
  const out: IExpr[] = [];
  for (const s of body) {
    if (s.op === "decl") out.push(s.init);
    else if (s.op === "assign") out.push(s.value);
    else if (s.op === "scratchStore") out.push(s.index, s.value);
    else return undefined;
  }
  return out;
}

/**
 * The loop printed with its global reads hoisted into vector loads, or undefined when it is not
 * of that shape (then it prints as a plain loop). `print` prints a loop with a rewritten body.
 */
export function vectorizedFor(s: ForStmt, p: ExprPrinter, ind: string, print: (loop: ForStmt, ind: string) => string[]): string[] | undefined {
  const v = constValue(s.end);
  if (constValue(s.start) !== 0 || constValue(s.step) !== 1 || (v !== 2 && v !== 4 && v !== 8)) return undefined;
  const exprs = bodyExprs(s.body);
  if (!exprs) return undefined;
  const zero = new Map<string, IExpr>([[s.index, { op: "const", type: "i32", value: 0 }]]);
  const vectors: { load: LoadExpr; name: string; first: string }[] = [];
  const sameLoad = (a: LoadExpr, b: LoadExpr) => b.global === a.global && JSON.stringify(b.indices) === JSON.stringify(a.indices);
  let eligible = true;
  for (const e of exprs)
    forEachExpr(e, (x) => {
      // A read under a condition may be out of bounds when the condition is false: never hoist it.
      if (x.op === "select" && (readsVar(x.then, s.index) || readsVar(x.else, s.index))) eligible = false;
      if (x.op !== "load" || !readsVar(x, s.index) || vectors.some((vec) => sameLoad(vec.load, x))) return;
      // Vector loads go through the read-only cache, which a buffer the kernel writes must bypass.
      if (p.globalParam(x.global).written) eligible = false;
      const base = baseOf(x.indices[x.indices.length - 1], s.index);
      const rowLength = p.fixedDim(x.global, x.indices.length - 1);
      const bytes = (elementBytes[p.dtypeOf(x.global)] ?? 0) * v;
      const aligned = base !== undefined && multipleOf(base, v) && !readsVar(base, s.index) && x.indices.slice(0, -1).every((i) => !readsVar(i, s.index))
        && (x.indices.length === 1 || (rowLength !== undefined && rowLength % v === 0)) && bytes % 4 === 0;
      if (!aligned) eligible = false;
      else vectors.push({ load: x, name: `${s.index}_vec${vectors.length}`, first: p.offset(x.global, x.indices.map((i) => substituteVars(i, zero))) });
    });
  if (!eligible || vectors.length === 0) return undefined;
  const inner = `${ind}  `;
  const lines = vectors.flatMap(({ load, name, first }) => [
    `${inner}alignas(16) ${pointerType(p.globalParam(load.global))} ${name}[${v}];`,
    `${inner}tsv_load_vector<${v}>(${name}, &${load.global}[${first}]);`,
  ]);
  // A raw scratch store (tensor-core staging) takes the vector's element as stored, unwidened.
  const rewrite = (e: IExpr, raw = false) => mapExpr(e, (x) => {
    const vec = x.op === "load" ? vectors.find((c) => sameLoad(c.load, x)) : undefined;
    const element = vec && `${vec.name}[${s.index}]`;
    return vec ? { op: "var", type: vec.load.type, name: raw ? element! : p.loadedValue(vec.load.global, element!) } : x;
  });
  const body = s.body.map((b): TStmt => (b.op === "decl" ? { ...b, init: rewrite(b.init) } : b.op === "assign" ? { ...b, value: rewrite(b.value) } : b.op === "scratchStore" ? { ...b, index: rewrite(b.index), value: rewrite(b.value, b.raw) } : b));
  // In a block of its own: the loop's siblings may hoist under the same index name.
  return [`${ind}{`, ...lines, ...print({ ...s, body }, inner), `${ind}}`];
}
