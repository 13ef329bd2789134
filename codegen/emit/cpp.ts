// The C++ (CPU) emitter: one function per specialised kernel with the uniform launch ABI. The grid
// becomes one program lambda over the flattened grid (axis 0 innermost), run by the runtime's
// thread pool (tsv_parallel_for, runtime/native/parallel.cc); forEach becomes an `omp simd` loop
// (its iterations are independent by the DSL's contract, so GCC may vectorise bodies with selects
// and stores); reductions become `omp simd` reduction loops (so f32 sums vectorise without
// -ffast-math); dotTile becomes a register-tiled AVX2/FMA micro-kernel where the target has it
// (cpp-tile.ts); exp is the prelude's branch-free tsv_expf and max/min its compare forms, so loops
// over softmax numerators, SiLU and running maxima vectorise too.
import { banner } from "./banner.ts";
import { cType, ExprPrinter, sharedMath, unpackArguments, type Dialect } from "./c-expr.ts";
import { emitDotTile } from "./cpp-tile.ts";
import type { IExpr, IStmt, KernelIR } from "../ir/types.ts";

let reduceCounter = 0;

const cpuDialect: Dialect = {
  math: {
    ...sharedMath,
    exp: (a) => `tsv_expf(${a[0]})`,
    max: (a, t) => (t === "float" ? `tsv_maxf(${a[0]}, ${a[1]})` : sharedMath.max(a, t)),
    min: (a, t) => (t === "float" ? `tsv_minf(${a[0]}, ${a[1]})` : sharedMath.min(a, t)),
  },
  pid: (axis) => `tsv_p${axis}`,
  reduce: (e, print) => {
    const acc = `tsv_acc${reduceCounter++}`;
    const init = { sum: "0.0f", max: "(-INFINITY)", min: "INFINITY" }[e.kind];
    const update = e.kind === "sum" ? `${acc} += ${print(e.term)};` : `${acc} = tsv_${e.kind}f(${acc}, ${print(e.term)});`;
    const clause = `${e.kind === "sum" ? "+" : e.kind}:${acc}`;
    return `({ float ${acc} = ${init}; _Pragma("omp simd reduction(${clause})") for (int ${e.index} = 0; ${e.index} < ${print(e.count)}; ++${e.index}) { ${update} } ${acc}; })`;
  },
};

export function emitCppKernel(ir: KernelIR): string {
  reduceCounter = 0;
  const p = new ExprPrinter(ir, cpuDialect);
  const body = ir.body.flatMap((s) => stmt(s, p, "      "));
  const grid = [0, 1, 2].map((a) => (ir.grid[a] ? p.print(ir.grid[a]) : "1"));
  return [
    banner(`${ir.source.file} (${ir.source.exportName})`),
    `#include "tsvllm_cpu.h"`,
    ``,
    `extern "C" void ${ir.symbol}(void* const* ptrs, const double* scalars, const int64_t* dims) {`,
    ...unpackArguments(ir).map((l) => `  ${l}`),
    `  (void)ptrs; (void)scalars; (void)dims;`,
    `  const int64_t tsv_g0 = ${grid[0]}, tsv_g1 = ${grid[1]}, tsv_g2 = ${grid[2]};`,
    `  auto tsv_program = [&](int64_t tsv_flat) {`,
    `    const int64_t tsv_p0 = tsv_flat % tsv_g0, tsv_p1 = (tsv_flat / tsv_g0) % tsv_g1, tsv_p2 = tsv_flat / (tsv_g0 * tsv_g1);`,
    `    (void)tsv_p0; (void)tsv_p1; (void)tsv_p2;`,
    ...body,
    `  };`,
    `  tsv_parallel_for(tsv_g0 * tsv_g1 * tsv_g2, ${launchWork(ir, p)} > ${parallelThreshold}, tsv_program);`,
    `}`,
    ``,
  ].join("\n");
}

function stmt(s: IStmt, p: ExprPrinter, ind: string): string[] {
  const block = (xs: IStmt[]) => xs.flatMap((x) => stmt(x, p, ind + "  "));
  const e = (x: IExpr) => p.print(x);
  switch (s.op) {
    case "decl": return [`${ind}${cType[s.type]} ${s.name} = ${e(s.init)};`];
    case "assign": return [`${ind}${s.name} = ${e(s.value)};`];
    case "store": return [`${ind}${s.global}[${p.offset(s.global, s.indices)}] = ${p.storeValue(s.global, e(s.value))};`];
    case "prefetch": return [`${ind}__builtin_prefetch(&${s.global}[${p.offset(s.global, s.indices)}]);`];
    case "scratchDecl": return [`${ind}float ${s.name}[${e(s.size)}];`];
    case "scratchStore": return [`${ind}${s.scratch}[${e(s.index)}] = ${e(s.value)};`];
    case "for": return [`${ind}for (int ${s.index} = ${e(s.start)}; ${s.index} < ${e(s.end)}; ${s.index} += ${e(s.step)}) {`, ...block(s.body), `${ind}}`];
    case "forEach": return [`${ind}_Pragma("omp simd")`, `${ind}for (int ${s.index} = 0; ${s.index} < ${e(s.count)}; ++${s.index}) {`, ...block(s.body), `${ind}}`];
    case "if": return [`${ind}if (${e(s.cond)}) {`, ...block(s.then), ...(s.else.length ? [`${ind}} else {`, ...block(s.else)] : []), `${ind}}`];
    case "dotTile": return emitDotTile(s, p, ind, `tsv_t${reduceCounter++}`);
  }
}

/**
 * Below this much work per launch (scalar operations, roughly) the grid runs on the calling thread:
 * waking a sleeping worker and joining it costs tens of microseconds, about what 2^19 vectorised
 * scalar operations take on one core.
 */
const parallelThreshold = 1 << 19;

/** The launch's work as a C int64 expression: the kernel's `work` factors, else programs x body estimate. */
function launchWork(ir: KernelIR, p: ExprPrinter): string {
  if (ir.work) return ir.work.map((w) => `(int64_t)(${p.print(w)})`).join(" * ");
  return `tsv_g0 * tsv_g1 * tsv_g2 * ${workPerProgram(ir.body)}`;
}

/** Inner iterations of one program: compile-time loop and reduction counts, multiplied when nested. */
function workPerProgram(stmts: IStmt[]): number {
  const count = (e: IExpr) => (e.op === "const" ? Math.max(1, e.value) : 64);
  let work = 1;
  const visitExpr = (e: IExpr, scale: number): void => {
    if (e.op === "reduce") {
      work += scale * count(e.count);
      visitExpr(e.term, scale * count(e.count));
    }
    for (const sub of subExprs(e)) visitExpr(sub, scale);
  };
  const visit = (xs: IStmt[], scale: number): void => {
    for (const st of xs) {
      for (const e of stmtExprs(st)) visitExpr(e, scale);
      if (st.op === "forEach") {
        work += scale * count(st.count);
        visit(st.body, scale * count(st.count));
      } else if (st.op === "for") visit(st.body, scale * 64);
      else if (st.op === "dotTile") work += scale * count(st.rows) * count(st.cols) * count(st.count);
      else if (st.op === "if") {
        visit(st.then, scale);
        visit(st.else, scale);
      }
    }
  };
  visit(stmts, 1);
  return work;
}

function subExprs(e: IExpr): IExpr[] {
  switch (e.op) {
    case "binary": return [e.left, e.right];
    case "unary": case "cast": return [e.operand];
    case "select": return [e.cond, e.then, e.else];
    case "math": return e.args;
    case "load": return e.indices;
    case "scratchLoad": return [e.index];
    default: return [];
  }
}

function stmtExprs(s: IStmt): IExpr[] {
  switch (s.op) {
    case "decl": return [s.init];
    case "assign": return [s.value];
    case "store": return [...s.indices, s.value];
    case "prefetch": return s.indices;
    case "scratchStore": return [s.index, s.value];
    default: return [];
  }
}
