// C++ for dotTile: into[at + i * cols + j] += sum over k of a(i, k) * b(j, k), for a rows x cols
// tile, on targets with AVX2/FMA/F16C (the prelude's TSV_AVX2_TILES) in one of two register forms:
//   dot:       both operands walk memory contiguously in k (x[t, k] against a weight row w[n, k]):
//              rows * cols __m256 accumulators along k, each operand vector loaded once per 8 k
//              for the whole tile, horizontal sums at the end and a scalar tail;
//   broadcast: b walks memory contiguously in j (a packed panel, or a weight stored [K, N]) and
//              cols is a multiple of 8: rows * cols / 8 accumulators along j, loaded from and
//              stored back to `into`, each step broadcasting a(i, k) against cols / 8 vectors of
//              b: the GEMM micro-kernel, with no horizontal sums.
// Operands are f32 scratch or f32/f16/bf16 tensors (widened on load). Anything else, and every
// target without AVX2, runs the portable `omp simd` reduction loop, which also takes the dot
// form's tail.
import type { IExpr, IStmt, TileOperand } from "../ir/types.ts";
import { substituteVars } from "../ir/walk.ts";
import { tileExtent } from "../lower/threads.ts";
import type { ExprPrinter } from "./c-expr.ts";

const vectorLoad: Record<string, { pointer: string; load: string }> = {
  f32: { pointer: "const float*", load: "tsv_load8_f32" },
  f16: { pointer: "const uint16_t*", load: "tsv_load8_f16" },
  bf16: { pointer: "const uint16_t*", load: "tsv_load8_bf16" },
};

const constant = (value: number): IExpr => ({ op: "const", type: "i32", value });
const variable = (name: string): IExpr => ({ op: "var", type: "i32", name });
const plus = (left: IExpr, right: IExpr): IExpr => ({ op: "binary", type: "i32", kind: "+", left, right });

/** The operand at row/column `index`, with its reduction index renamed to `k`. */
function operandAt(o: TileOperand, index: IExpr, k: string): IExpr {
  return substituteVars(o.term, new Map<string, IExpr>([[o.index, index], [o.k, variable(k)]]));
}

function mentions(e: IExpr, name: string): boolean {
  switch (e.op) {
    case "var": return e.name === name;
    case "binary": return mentions(e.left, name) || mentions(e.right, name);
    case "unary": case "cast": return mentions(e.operand, name);
    case "select": return mentions(e.cond, name) || mentions(e.then, name) || mentions(e.else, name);
    case "math": return e.args.some((a) => mentions(a, name));
    case "load": return e.indices.some((i) => mentions(i, name));
    case "scratchLoad": return mentions(e.index, name);
    case "reduce": return mentions(e.count, name) || mentions(e.term, name);
    default: return false;
  }
}

/** Whether the index expression is `v`, `x + v` or `v + x` with x free of v: unit stride in v. */
function unitStride(e: IExpr, v: string): boolean {
  if (e.op === "var") return e.name === v;
  if (e.op !== "binary" || e.kind !== "+") return false;
  return (unitStride(e.left, v) && !mentions(e.right, v)) || (unitStride(e.right, v) && !mentions(e.left, v));
}

interface Stream {
  pointer: string;
  /** C expression for the address of the element at v = 0. */
  base: string;
  load: string;
}

/** How to load 8 consecutive values of `e` along `v`, when `e` reads memory with unit stride in v. */
function contiguous(e: IExpr, v: string, p: ExprPrinter): Stream | undefined {
  const zero = new Map([[v, constant(0)]]);
  if (e.op === "scratchLoad") {
    if (!unitStride(e.index, v)) return undefined;
    return { pointer: "const float*", base: `&${e.scratch}[${p.print(substituteVars(e.index, zero))}]`, load: "tsv_load8_f32" };
  }
  if (e.op !== "load") return undefined;
  const last = e.indices[e.indices.length - 1];
  if (!unitStride(last, v) || e.indices.slice(0, -1).some((i) => mentions(i, v))) return undefined;
  const kind = vectorLoad[p.dtypeOf(e.global)];
  if (!kind) return undefined;
  return { ...kind, base: `&${e.global}[${p.offset(e.global, e.indices.map((i) => substituteVars(i, zero)))}]` };
}

/** At most this many accumulators per register pass: with the operand vectors they fill the 16 ymm registers. */
const accumulators = 12;

/** Beyond this many register passes a tile's passes run as a loop instead of being unrolled. */
const maxUnrolledPasses = 16;

export function emitDotTile(s: Extract<IStmt, { op: "dotTile" }>, p: ExprPrinter, ind: string, prefix: string): string[] {
  const rows = tileExtent(s.rows, "rows", s.span);
  const cols = tileExtent(s.cols, "cols", s.span);
  const k = `${prefix}_k`;
  const as = Array.from({ length: rows }, (_, i) => operandAt(s.a, constant(i), k));
  const bs = Array.from({ length: cols }, (_, j) => operandAt(s.b, constant(j), k));
  const form = tileForm(s, p, as, bs, k, cols);
  // Large tiles run as several register passes over k, each a sub-tile of at most 12 accumulators.
  const rowStep = Math.min(rows, accumulators);
  const colStep = (form.kind === "broadcast" ? 8 : 1) * Math.max(1, Math.floor(accumulators / rowStep));
  if (form.kind !== "broadcast" && Math.ceil(rows / rowStep) * Math.ceil(cols / colStep) > maxUnrolledPasses) return loopedPasses(s, p, ind, prefix, k, rows, cols);
  const at = p.print(s.at);
  const lines: string[] = [];
  let pass = 0;
  for (let r0 = 0; r0 < rows; r0 += rowStep) {
    for (let c0 = 0; c0 < cols; c0 += colStep) {
      const tile = { rows: range(r0, Math.min(r0 + rowStep, rows)), cols: range(c0, Math.min(c0 + colStep, cols)) };
      lines.push(...subTile(s, p, ind, rows * cols > tile.rows.length * tile.cols.length ? `${prefix}_${pass++}` : prefix, k, at, as, bs, cols, tile, form));
    }
  }
  return lines;
}

function tileForm(s: Extract<IStmt, { op: "dotTile" }>, p: ExprPrinter, as: IExpr[], bs: IExpr[], k: string, cols: number): Form {
  const aRows = as.map((e) => contiguous(e, k, p));
  const bRows = bs.map((e) => contiguous(e, k, p));
  const bRow = cols % 8 === 0 ? contiguous(substituteVars(s.b.term, new Map([[s.b.k, variable(k)]])), s.b.index, p) : undefined;
  if (aRows.every(Boolean) && bRows.every(Boolean)) return { kind: "dot", aRows: aRows as Stream[], bRows: bRows as Stream[] };
  return bRow ? { kind: "broadcast" } : { kind: "scalar" };
}

/**
 * A tile too large to unroll (a GPU-sized 64 x 64 tile compiled for CPU): one register pass of
 * sub-tile rowStep x colStep (dividing rows and cols; the most accumulators up to 12, then the
 * fewest operand loads) inside loops over the sub-tile's position.
 */
function loopedPasses(s: Extract<IStmt, { op: "dotTile" }>, p: ExprPrinter, ind: string, prefix: string, k: string, rows: number, cols: number): string[] {
  let best = { rowStep: 1, colStep: 1 };
  for (let r = 1; r <= accumulators; r++)
    for (let c = 1; r * c <= accumulators; c++) {
      if (rows % r !== 0 || cols % c !== 0) continue;
      const better = r * c > best.rowStep * best.colStep || (r * c === best.rowStep * best.colStep && r + c < best.rowStep + best.colStep);
      if (better) best = { rowStep: r, colStep: c };
    }
  const r0 = `${prefix}_r0`;
  const c0 = `${prefix}_c0`;
  const as = range(0, best.rowStep).map((i) => operandAt(s.a, plus(variable(r0), constant(i)), k));
  const bs = range(0, best.colStep).map((j) => operandAt(s.b, plus(variable(c0), constant(j)), k));
  const at = `${p.print(s.at)} + ${r0} * ${cols} + ${c0}`;
  const tile = { rows: range(0, best.rowStep), cols: range(0, best.colStep) };
  return [
    `${ind}for (int ${r0} = 0; ${r0} < ${rows}; ${r0} += ${best.rowStep}) {`,
    `${ind}  for (int ${c0} = 0; ${c0} < ${cols}; ${c0} += ${best.colStep}) {`,
    ...subTile(s, p, `${ind}    `, prefix, k, at, as, bs, cols, tile, tileForm(s, p, as, bs, k, cols)),
    `${ind}  }`,
    `${ind}}`,
  ];
}

type Form = { kind: "dot"; aRows: Stream[]; bRows: Stream[] } | { kind: "broadcast" } | { kind: "scalar" };

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** One register pass: the tile's rows x cols entries over the whole k range, added into scratch. */
function subTile(s: Extract<IStmt, { op: "dotTile" }>, p: ExprPrinter, ind: string, prefix: string, k: string, at: string, as: IExpr[], bs: IExpr[], cols: number, tile: { rows: number[]; cols: number[] }, form: Form): string[] {
  const count = p.print(s.count);
  const entries = tile.rows.flatMap((i) => tile.cols.map((j) => ({ i, j, sum: `${prefix}_s${i}_${j}` })));
  const inner = ind + "  ";
  const deeper = inner + "  ";
  const sums = `${inner}${entries.map((e) => `float ${e.sum} = 0.0f;`).join(" ")}`;
  const lines = [`${ind}{`, ...(form.kind === "broadcast" ? [] : [sums]), `${inner}int ${k} = 0;`];
  if (form.kind === "dot") {
    const v = (i: number, j: number) => `${prefix}_v${i}_${j}`;
    const aRows = tile.rows.map((i) => ({ i, r: form.aRows[i] }));
    const bRows = tile.cols.map((j) => ({ j, r: form.bRows[j] }));
    lines.push(
      `#if TSV_AVX2_TILES`,
      `${inner}{`,
      ...aRows.map(({ i, r }) => `${deeper}${r.pointer} ${prefix}_pa${i} = ${r.base};`),
      ...bRows.map(({ j, r }) => `${deeper}${r.pointer} ${prefix}_pb${j} = ${r.base};`),
      `${deeper}${entries.map((e) => `__m256 ${v(e.i, e.j)} = _mm256_setzero_ps();`).join(" ")}`,
      `${deeper}for (; ${k} + 8 <= ${count}; ${k} += 8) {`,
      ...bRows.map(({ j, r }) => `${deeper}  const __m256 ${prefix}_b${j} = ${r.load}(${prefix}_pb${j} + ${k});`),
      ...aRows.flatMap(({ i, r }) => [
        `${deeper}  const __m256 ${prefix}_a${i} = ${r.load}(${prefix}_pa${i} + ${k});`,
        ...tile.cols.map((j) => `${deeper}  ${v(i, j)} = _mm256_fmadd_ps(${prefix}_a${i}, ${prefix}_b${j}, ${v(i, j)});`),
      ]),
      `${deeper}}`,
      ...entries.map((e) => `${deeper}${e.sum} = tsv_hsum8(${v(e.i, e.j)});`),
      `${inner}}`,
      `#endif`,
    );
  } else if (form.kind === "broadcast") {
    const vectors = range(0, tile.cols.length / 8);
    const c0 = tile.cols[0];
    const c = (i: number, q: number, u: number) => `${prefix}_c${i}_${q}${u === 0 ? "" : `_${u}`}`;
    const cTile = tile.rows.flatMap((i) => vectors.map((q) => ({ i, q, address: `&${s.scratch}[${at} + ${i * cols + c0 + 8 * q}]` })));
    // A tile of few accumulators (one token row of a decode matvec) would wait on each FMA's
    // latency: consecutive k then feed separate accumulator sets, summed before the store.
    const sets = cTile.length <= 4 ? Math.min(4, Math.floor(accumulators / cTile.length)) : 1;
    const rowAt = (kAt: IExpr) => contiguous(substituteVars(s.b.term, new Map([[s.b.k, kAt]])), s.b.index, p)!;
    // f32 rows of a that run contiguously in k get a pointer each, set once per pass: recomputing
    // every row's address per k step (and, short of registers, reloading x's base from the stack)
    // took a third of the prefill micro-kernel's instructions beside its 12 FMAs.
    const aStreams = tile.rows.map((i) => ({ i, stream: contiguous(as[i], k, p) }));
    const aPointers = aStreams.every((r) => r.stream?.load === "tsv_load8_f32");
    const broadcastOf = (i: number, kAt: IExpr, kAtU: Map<string, IExpr>) =>
      aPointers ? `${prefix}_pa${i}[${p.print(kAt)}]` : p.print(substituteVars(as[i], kAtU));
    const ahead = s.prefetchAhead;
    const step = (u: number, kAt: IExpr): string[] => {
      const kAtU = new Map([[k, kAt]]);
      const row = rowAt(kAt);
      // Only a hint: a prefetch never faults, so an address past the end of b is harmless.
      const prefetch = ahead ? [`${deeper}  _mm_prefetch((const char*)${rowAt(plus(kAt, ahead)).base}, _MM_HINT_T0);`] : [];
      return [
        `${deeper}  { ${row.pointer} ${prefix}_row = ${row.base};`,
        ...prefetch,
        ...vectors.map((q) => `${deeper}  const __m256 ${prefix}_b${q} = ${row.load}(${prefix}_row + ${c0 + 8 * q});`),
        ...tile.rows.flatMap((i) => [
          `${deeper}  const __m256 ${prefix}_a${i} = _mm256_set1_ps(${broadcastOf(i, kAt, kAtU)});`,
          ...vectors.map((q) => `${deeper}  ${c(i, q, u)} = _mm256_fmadd_ps(${prefix}_a${i}, ${prefix}_b${q}, ${c(i, q, u)});`),
        ]),
        `${deeper}  }`,
      ];
    };
    const kPlus = (u: number): IExpr => (u === 0 ? variable(k) : plus(variable(k), constant(u)));
    lines.push(
      `#if TSV_AVX2_TILES`,
      `${inner}{`,
      ...(aPointers ? aStreams.map(({ i, stream }) => `${deeper}const float* ${prefix}_pa${i} = ${stream!.base};`) : []),
      ...cTile.map((e) => `${deeper}__m256 ${c(e.i, e.q, 0)} = _mm256_loadu_ps(${e.address});`),
      ...range(1, sets).flatMap((u) => cTile.map((e) => `${deeper}__m256 ${c(e.i, e.q, u)} = _mm256_setzero_ps();`)),
      ...(sets > 1 ? [`${deeper}for (; ${k} + ${sets} <= ${count}; ${k} += ${sets}) {`, ...range(0, sets).flatMap((u) => step(u, kPlus(u))), `${deeper}}`] : []),
      // A fixed count the sets divide leaves no single steps (GCC, not seeing that, warned of
      // overflow in the dead loop's indices).
      ...(sets > 1 && s.count.op === "const" && s.count.value % sets === 0 ? [] : [`${deeper}for (; ${k} < ${count}; ++${k}) {`, ...step(0, variable(k)), `${deeper}}`]),
      ...range(1, sets).flatMap((u) => cTile.map((e) => `${deeper}${c(e.i, e.q, 0)} = _mm256_add_ps(${c(e.i, e.q, 0)}, ${c(e.i, e.q, u)});`)),
      ...cTile.map((e) => `${deeper}_mm256_storeu_ps(${e.address}, ${c(e.i, e.q, 0)});`),
      `${inner}}`,
      // The vector loop takes every k: the scalar loop below is only the portable form. Emitting it
      // unconditionally would cost a read-modify-write of every tile entry per pass.
      `#else`,
    );
  }
  const kk = `${prefix}_kk`;
  const stepAt = (e: IExpr) => p.print(substituteVars(e, new Map([[k, variable(kk)]])));
  lines.push(
    ...(form.kind === "broadcast" ? [sums] : []),
    `${inner}_Pragma("omp simd reduction(+:${entries.map((e) => e.sum).join(",")})")`,
    `${inner}for (int ${kk} = ${k}; ${kk} < ${count}; ++${kk}) {`,
    ...tile.rows.map((i) => `${inner}  const float ${prefix}_x${i} = ${stepAt(as[i])};`),
    ...tile.cols.map((j) => `${inner}  const float ${prefix}_y${j} = ${stepAt(bs[j])};`),
    ...entries.map((e) => `${inner}  ${e.sum} += ${prefix}_x${e.i} * ${prefix}_y${e.j};`),
    `${inner}}`,
    ...entries.map((e) => `${inner}${s.scratch}[${at} + ${e.i * cols + e.j}] += ${e.sum};`),
    ...(form.kind === "broadcast" ? [`#endif`] : []),
    `${ind}}`,
  );
  return lines;
}
