// C++ for dotTile: into[at + i * cols + j] += sum over k of a(i, k) * b(j, k), for a rows x cols
// tile, in one of two register forms, each emitted for AVX-512 (16 f32 lanes, 32 registers: the
// prelude's TSV_AVX512_TILES) and for AVX2/FMA/F16C (8 lanes, 16 registers: TSV_AVX2_TILES), the
// compiler keeping the widest its target has:
//   dot:       both operands walk memory contiguously in k (x[t, k] against a weight row w[n, k]):
//              rows * cols vector accumulators along k, each operand vector loaded once per
//              vector of k for the whole tile, horizontal sums at the end and a scalar tail;
//   broadcast: b walks memory contiguously in j within each vector of j (a packed panel, a weight
//              stored [K, N], or several panels side by side, b(j, k) = w[p + idiv(j, 16), k,
//              j % 16], each vector then its own stream) and cols is a multiple of the vector
//              width: rows * cols / width accumulators along j, loaded from and stored back to
//              `into`, each step broadcasting a(i, k) against cols / width vectors of b: the GEMM
//              micro-kernel, with no horizontal sums. Each vector of b may also compute on its
//              loads (cpp-vector-term.ts: int8 or packed 4-bit panels dequantized by a scale and
//              offset per group of k); where such a scale and offset are constant over groups of
//              k, small tiles sum each group's integers times a first and apply them once.
// Operands are f32 scratch or f32/f16/bf16 tensors (widened on load). Anything else, and every
// target without AVX2, runs the portable `omp simd` reduction loop, which also takes the dot
// form's tail.
import type { IExpr, IStmt, TileOperand } from "../ir/types.ts";
import { mapChildren, substituteVars } from "../ir/walk.ts";
import { tileExtent } from "../lower/threads.ts";
import type { ExprPrinter } from "./c-expr.ts";
import { alignedStep } from "./cpp-aligned-step.ts";
import { contiguousLoad, groupedTerm, vectorTerm, type GroupedTerm, type VectorTerm } from "./cpp-vector-term.ts";

type Element = "f32" | "f16" | "bf16";

const elementPointer: Record<Element, string> = { f32: "const float*", f16: "const uint16_t*", bf16: "const uint16_t*" };

/** One vector instruction set the micro-kernels are emitted for, behind its prelude guard. */
interface VectorIsa {
  guard: string;
  /** f32 lanes per vector. */
  width: number;
  type: string;
  /** Intrinsic name prefix: `${intrinsics}fmadd_ps`. */
  intrinsics: string;
  /** At most this many accumulators per register pass, leaving registers for the operand vectors. */
  accumulators: number;
  /** Fewest independent accumulators that hide the FMA latency (latency x FMA pipes). */
  chains: number;
}

// Widest first: the emitted `#if ... #elif` keeps the first its target compiles.
const vectorIsas: VectorIsa[] = [
  { guard: "TSV_AVX512_TILES", width: 16, type: "__m512", intrinsics: "_mm512_", accumulators: 24, chains: 8 },
  { guard: "TSV_AVX2_TILES", width: 8, type: "__m256", intrinsics: "_mm256_", accumulators: 12, chains: 8 },
];

const loadOf = (isa: VectorIsa, element: Element) => `tsv_load${isa.width}_${element}`;

const constant = (value: number): IExpr => ({ op: "const", type: "i32", value });
const variable = (name: string): IExpr => ({ op: "var", type: "i32", name });
const plus = (left: IExpr, right: IExpr): IExpr => ({ op: "binary", type: "i32", kind: "+", left, right });

/** The operand at row/column `index`, with its reduction index renamed to `k`. */
function operandAt(o: TileOperand, index: IExpr, k: string): IExpr {
  return substituteVars(o.term, new Map<string, IExpr>([[o.index, index], [o.k, variable(k)]]));
}

interface Stream {
  /** C expression for the address of the element at v = 0. */
  base: string;
  element: Element;
}

const isElement = (dtype: string): dtype is Element => dtype in elementPointer;

/** How to load consecutive values of `e` along `v` as floats, when `e` reads f32/f16/bf16 memory with unit stride in v. */
function contiguous(e: IExpr, v: string, p: ExprPrinter): Stream | undefined {
  const stream = contiguousLoad(e, v, p);
  return stream && isElement(stream.element) ? { base: stream.base, element: stream.element } : undefined;
}

/**
 * The term with j bound to column c + lane (lane in [0, width)): idiv(j, m) and j % m become a
 * constant and constant + lane where the vector does not straddle a multiple of m; undefined
 * where it does (its columns are then not one stream).
 */
function laneTerm(term: IExpr, j: string, c: number, lane: string, width: number): IExpr | undefined {
  let straddles = false;
  const isJ = (e: IExpr) => e.op === "var" && e.name === j;
  const divisorOf = (e: IExpr) => (e.op === "const" && e.value > 0 ? e.value : undefined);
  const rewrite = (e: IExpr): IExpr => {
    const [numerator, denominator] = e.op === "math" && e.fn === "idiv" ? e.args : e.op === "binary" && e.kind === "%" ? [e.left, e.right] : [];
    const m = numerator && isJ(numerator) ? divisorOf(denominator) : undefined;
    if (m !== undefined) {
      if ((c % m) + width > m) straddles = true;
      return e.op === "math" ? constant(Math.floor(c / m)) : plus(constant(c % m), variable(lane));
    }
    if (isJ(e)) return plus(constant(c), variable(lane));
    return mapChildren(e, rewrite);
  };
  const out = rewrite(term);
  return straddles ? undefined : out;
}

/**
 * b at k = kAt for the vector of columns c .. c + width - 1, when its reads of them are vector
 * loads (cpp-vector-term.ts); `aligned`: kAt is loop variable k plus a step below `multiple`, k a
 * multiple of it (cpp-aligned-step.ts).
 */
function vectorRow(b: TileOperand, kAt: IExpr, c: number, width: number, p: ExprPrinter, aligned?: { k: string; multiple: number }): VectorTerm | undefined {
  const lane = `${b.index}_lane`;
  const stepped = substituteVars(b.term, new Map([[b.k, kAt]]));
  const term = laneTerm(aligned ? alignedStep(stepped, aligned.k, aligned.multiple) : stepped, b.index, c, lane, width);
  return term && vectorTerm(term, lane, p);
}

/** Whether every vector of b's columns is a vector term, for vectors of this width. */
const vectorsContiguous = (b: TileOperand, cols: number, width: number, p: ExprPrinter) =>
  cols % width === 0 && range(0, cols / width).every((q) => vectorRow(b, constant(0), q * width, width, p) !== undefined);

/**
 * The broadcast pass's steps as grouped terms (cpp-vector-term.ts's groupedTerm), for every step u
 * of the sets loop and vector q, when the pass can run them group by group: AVX-512 (the sets,
 * their sums and the accumulators take rows x vectors x (sets + 1) of its 32 registers), a fixed
 * count of whole groups, groups of whole sets, one scale and offset expression for all steps.
 */
function groupedSteps(t: TileContext, tile: SubTile, isa: VectorIsa, sets: number): { G: number; steps: GroupedTerm[][] } | undefined {
  const { s, p, k } = t;
  const vectors = tile.cols.length / isa.width;
  if (isa.width !== 16 || s.count.op !== "const" || tile.rows.length * vectors * (sets + 1) + vectors + 2 > 32) return undefined;
  const lane = `${s.b.index}_lane`;
  const steps = range(0, sets).map((u) =>
    range(0, vectors).map((q) => {
      const kAt = u === 0 ? variable(k) : plus(variable(k), constant(u));
      const term = laneTerm(alignedStep(substituteVars(s.b.term, new Map([[s.b.k, kAt]])), k, sets), s.b.index, tile.cols[0] + isa.width * q, lane, isa.width);
      return term && groupedTerm(term, lane, k, p);
    }),
  );
  const all = steps.flat();
  if (!all.every((g): g is GroupedTerm => g !== undefined)) return undefined;
  const G = all[0].group;
  const same = (a: IExpr | undefined, b: IExpr | undefined) => JSON.stringify(a) === JSON.stringify(b);
  const consistent = all.every((g, index) => g.group === G && same(g.scale, all[index % vectors].scale) && same(g.offset, all[index % vectors].offset));
  if (!consistent || s.count.value % G !== 0 || G % sets !== 0) return undefined;
  return { G, steps: steps as GroupedTerm[][] };
}

/** Beyond this many register passes a tile's passes run as a loop instead of being unrolled. */
const maxUnrolledPasses = 16;

type Form = { kind: "dot"; aRows: Stream[]; bRows: Stream[] } | { kind: "broadcast" } | { kind: "scalar" };

/** What every emitted variant of a tile shares: the statement, the printer, its names, extents and form. */
interface TileContext {
  s: Extract<IStmt, { op: "dotTile" }>;
  p: ExprPrinter;
  prefix: string;
  k: string;
  rows: number;
  cols: number;
  form: Form;
}

export function emitDotTile(s: Extract<IStmt, { op: "dotTile" }>, p: ExprPrinter, ind: string, prefix: string): string[] {
  const rows = tileExtent(s.rows, "rows", s.span);
  const cols = tileExtent(s.cols, "cols", s.span);
  const k = `${prefix}_k`;
  const as = Array.from({ length: rows }, (_, i) => operandAt(s.a, constant(i), k));
  const bs = Array.from({ length: cols }, (_, j) => operandAt(s.b, constant(j), k));
  const t: TileContext = { s, p, prefix, k, rows, cols, form: tileForm(s, p, as, bs, k, cols) };
  const isas = t.form.kind === "scalar" ? [] : vectorIsas.filter((isa) => t.form.kind === "dot" || vectorsContiguous(s.b, cols, isa.width, p));
  if (isas.length === 0) return tilePasses(t, ind, as, bs);
  return [
    ...isas.flatMap((isa, i) => [`#${i === 0 ? "if" : "elif"} ${isa.guard}`, ...tilePasses(t, ind, as, bs, isa)]),
    `#else`,
    ...tilePasses(t, ind, as, bs),
    `#endif`,
  ];
}

function tileForm(s: Extract<IStmt, { op: "dotTile" }>, p: ExprPrinter, as: IExpr[], bs: IExpr[], k: string, cols: number): Form {
  const aRows = as.map((e) => contiguous(e, k, p));
  const bRows = bs.map((e) => contiguous(e, k, p));
  if (aRows.every(Boolean) && bRows.every(Boolean)) return { kind: "dot", aRows: aRows as Stream[], bRows: bRows as Stream[] };
  return vectorsContiguous(s.b, cols, vectorIsas[vectorIsas.length - 1].width, p) ? { kind: "broadcast" } : { kind: "scalar" };
}

/** Accumulators per register pass: the dot form also holds a tile's worth of operand vectors. */
const accumulatorsOf = (form: Form, isa: VectorIsa) => (form.kind === "broadcast" ? isa.accumulators : Math.min(isa.accumulators, 12));

/**
 * The whole tile as register passes of sub-tiles, for one instruction set (none: the portable
 * loops, split as the narrowest set splits them). Large tiles run as several register passes over
 * k, each of at most the set's accumulators.
 */
function tilePasses(t: TileContext, ind: string, as: IExpr[], bs: IExpr[], isa?: VectorIsa): string[] {
  const { s, p, prefix, rows, cols, form } = t;
  const split = isa ?? vectorIsas[vectorIsas.length - 1];
  const accumulators = accumulatorsOf(form, split);
  const rowStep = Math.min(rows, accumulators);
  const colStep = (form.kind === "broadcast" ? split.width : 1) * Math.max(1, Math.floor(accumulators / rowStep));
  if (form.kind !== "broadcast" && Math.ceil(rows / rowStep) * Math.ceil(cols / colStep) > maxUnrolledPasses) return loopedPasses(t, ind, accumulators, isa);
  const at = p.print(s.at);
  const lines: string[] = [];
  let pass = 0;
  for (let r0 = 0; r0 < rows; r0 += rowStep) {
    for (let c0 = 0; c0 < cols; c0 += colStep) {
      const tile = { rows: range(r0, Math.min(r0 + rowStep, rows)), cols: range(c0, Math.min(c0 + colStep, cols)) };
      const passPrefix = rows * cols > tile.rows.length * tile.cols.length ? `${prefix}_${pass++}` : prefix;
      lines.push(...subTile({ ...t, prefix: passPrefix }, ind, at, as, bs, tile, isa));
    }
  }
  return lines;
}

/**
 * A tile too large to unroll (a GPU-sized 64 x 64 tile compiled for CPU): one register pass of
 * sub-tile rowStep x colStep (dividing rows and cols; the most accumulators up to the cap, then
 * the fewest operand loads) inside loops over the sub-tile's position.
 */
function loopedPasses(t: TileContext, ind: string, accumulators: number, isa?: VectorIsa): string[] {
  const { s, p, prefix, k, rows, cols } = t;
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
    ...subTile({ ...t, form: tileForm(s, p, as, bs, k, cols) }, `${ind}    `, at, as, bs, tile, isa),
    `${ind}  }`,
    `${ind}}`,
  ];
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

type SubTile = { rows: number[]; cols: number[] };

/** One register pass: the tile's rows x cols entries over the whole k range, added into scratch. */
function subTile(t: TileContext, ind: string, at: string, as: IExpr[], bs: IExpr[], tile: SubTile, isa?: VectorIsa): string[] {
  const { s, p, prefix, k, cols, form } = t;
  const count = p.print(s.count);
  const entries = tile.rows.flatMap((i) => tile.cols.map((j) => ({ i, j, sum: `${prefix}_s${i}_${j}` })));
  const inner = ind + "  ";
  const sums = `${inner}${entries.map((e) => `float ${e.sum} = 0.0f;`).join(" ")}`;
  if (isa && form.kind === "broadcast") return [`${ind}{`, `${inner}int ${k} = 0;`, ...broadcastPass(t, inner, at, as, tile, isa), `${ind}}`];
  const kk = `${prefix}_kk`;
  const stepAt = (e: IExpr) => p.print(substituteVars(e, new Map([[k, variable(kk)]])));
  const vectorIsa = isa && form.kind === "dot" ? isa : undefined;
  const vectorLoop = vectorIsa ? dotPass(t, inner, entries, tile, vectorIsa) : [];
  // A k extent known to be whole vectors leaves the scalar tail nothing to do; emitted anyway, gcc
  // cannot always see that it is empty and flags its reads as out of bounds.
  const tailEmpty = vectorIsa !== undefined && s.count.op === "const" && s.count.value % vectorIsa.width === 0;
  const tail = tailEmpty ? [] : [
    `${inner}_Pragma("omp simd reduction(+:${entries.map((e) => e.sum).join(",")})")`,
    `${inner}for (int ${kk} = ${k}; ${kk} < ${count}; ++${kk}) {`,
    ...tile.rows.map((i) => `${inner}  const float ${prefix}_x${i} = ${stepAt(as[i])};`),
    ...tile.cols.map((j) => `${inner}  const float ${prefix}_y${j} = ${stepAt(bs[j])};`),
    ...entries.map((e) => `${inner}  ${e.sum} += ${prefix}_x${e.i} * ${prefix}_y${e.j};`),
    `${inner}}`,
  ];
  return [
    `${ind}{`,
    sums,
    `${inner}int ${k} = 0;`,
    ...vectorLoop,
    ...tail,
    ...entries.map((e) => `${inner}${s.scratch}[${at} + ${e.i * cols + e.j}] += ${e.sum};`),
    `${ind}}`,
  ];
}

/** The dot form's vector loop: whole vectors of k into per-entry accumulators, summed horizontally into the entries' sums; the caller's scalar loop takes the rest of k. */
function dotPass(t: TileContext, inner: string, entries: { i: number; j: number; sum: string }[], tile: SubTile, isa: VectorIsa): string[] {
  const { s, p, prefix, k, form } = t;
  if (form.kind !== "dot") return [];
  const deeper = inner + "  ";
  const count = p.print(s.count);
  const v = (i: number, j: number) => `${prefix}_v${i}_${j}`;
  const aRows = tile.rows.map((i) => ({ i, r: form.aRows[i] }));
  const bRows = tile.cols.map((j) => ({ j, r: form.bRows[j] }));
  return [
    `${inner}{`,
    ...aRows.map(({ i, r }) => `${deeper}${elementPointer[r.element]} ${prefix}_pa${i} = ${r.base};`),
    ...bRows.map(({ j, r }) => `${deeper}${elementPointer[r.element]} ${prefix}_pb${j} = ${r.base};`),
    `${deeper}${entries.map((e) => `${isa.type} ${v(e.i, e.j)} = ${isa.intrinsics}setzero_ps();`).join(" ")}`,
    `${deeper}for (; ${k} + ${isa.width} <= ${count}; ${k} += ${isa.width}) {`,
    ...bRows.map(({ j, r }) => `${deeper}  const ${isa.type} ${prefix}_b${j} = ${loadOf(isa, r.element)}(${prefix}_pb${j} + ${k});`),
    ...aRows.flatMap(({ i, r }) => [
      `${deeper}  const ${isa.type} ${prefix}_a${i} = ${loadOf(isa, r.element)}(${prefix}_pa${i} + ${k});`,
      ...tile.cols.map((j) => `${deeper}  ${v(i, j)} = ${isa.intrinsics}fmadd_ps(${prefix}_a${i}, ${prefix}_b${j}, ${v(i, j)});`),
    ]),
    `${deeper}}`,
    ...entries.map((e) => `${deeper}${e.sum} = tsv_hsum${isa.width}(${v(e.i, e.j)});`),
    `${inner}}`,
  ];
}

/** The broadcast form's pass: accumulators loaded from and stored back to the scratch tile, every k taken by vector steps. */
function broadcastPass(t: TileContext, inner: string, at: string, as: IExpr[], tile: SubTile, isa: VectorIsa): string[] {
  const { s, p, prefix, k, cols } = t;
  const deeper = inner + "  ";
  const count = p.print(s.count);
  const vectors = range(0, tile.cols.length / isa.width);
  const c0 = tile.cols[0];
  const c = (i: number, q: number, u: number) => `${prefix}_c${i}_${q}${u === 0 ? "" : `_${u}`}`;
  const cTile = tile.rows.flatMap((i) => vectors.map((q) => ({ i, q, address: `&${s.scratch}[${at} + ${i * cols + c0 + isa.width * q}]` })));
  // A tile of few accumulators (one token row of a decode matvec) would wait on each FMA's
  // latency: consecutive k then feed separate accumulator sets, summed before the store.
  // A fixed count below the sets would leave them all but one zero, still summed at the end.
  const sets = Math.max(1, Math.min(accumulatorSets(cTile.length, isa), s.count.op === "const" ? s.count.value : Infinity));
  // One pointer per step for a row contiguous across the tile (a panel); else one per vector (the
  // rows of several panels side by side, which share each broadcast of a).
  const wholeRow = (kAt: IExpr) => contiguous(substituteVars(s.b.term, new Map([[s.b.k, kAt]])), s.b.index, p);
  const vectorRows = (kAt: IExpr, multiple = 1) => vectors.map((q) => vectorRow(s.b, kAt, c0 + isa.width * q, isa.width, p, { k, multiple })!);
  // f32 rows of a that run contiguously in k get a pointer each, set once per pass: recomputing
  // every row's address per k step (and, short of registers, reloading x's base from the stack)
  // took a third of the prefill micro-kernel's instructions beside its 12 FMAs.
  const aStreams = tile.rows.map((i) => ({ i, stream: contiguous(as[i], k, p) }));
  const aPointers = aStreams.every((r) => r.stream?.element === "f32");
  const broadcastOf = (i: number, kAt: IExpr, kAtU: Map<string, IExpr>) =>
    aPointers ? `${prefix}_pa${i}[${p.print(kAt)}]` : p.print(substituteVars(as[i], kAtU));
  const ahead = s.prefetchAhead;
  const fma = `${isa.intrinsics}fmadd_ps`;
  // The sets loop's k is a multiple of sets: its steps' terms simplify with that (alignedStep).
  const step = (u: number, kAt: IExpr, multiple = 1): string[] => {
    const kAtU = new Map([[k, kAt]]);
    // Only a hint: a prefetch never faults, so an address past the end of b is harmless.
    const row = wholeRow(kAt);
    const prefetches = !ahead ? [] : row ? [wholeRow(plus(kAt, ahead))!.base] : vectorRows(plus(kAt, ahead)).flatMap((r) => r.prefetchAddresses);
    const prefetch = prefetches.map((address) => `${deeper}  _mm_prefetch((const char*)${address}, _MM_HINT_T0);`);
    const loads = row
      ? [`${deeper}  { ${elementPointer[row.element]} ${prefix}_row = ${row.base};`, ...prefetch, ...vectors.map((q) => `${deeper}  const ${isa.type} ${prefix}_b${q} = ${loadOf(isa, row.element)}(${prefix}_row + ${c0 + isa.width * q});`)]
      : [`${deeper}  {`, ...prefetch, ...vectorRows(kAt, multiple).map((r, q) => `${deeper}  const ${isa.type} ${prefix}_b${q} = ${r.print(isa.width)};`)];
    return [
      ...loads,
      ...tile.rows.flatMap((i) => [
        `${deeper}  const ${isa.type} ${prefix}_a${i} = ${isa.intrinsics}set1_ps(${broadcastOf(i, kAt, kAtU)});`,
        ...vectors.map((q) => `${deeper}  ${c(i, q, u)} = ${fma}(${prefix}_a${i}, ${prefix}_b${q}, ${c(i, q, u)});`),
      ]),
      `${deeper}  }`,
    ];
  };
  const kPlus = (u: number): IExpr => (u === 0 ? variable(k) : plus(variable(k), constant(u)));
  const grouped = groupedSteps(t, tile, isa, sets);
  if (grouped && !ahead) {
    // Per group of G k: value * a summed into zeroed sets, then the group's scale and offset once
    // (an offset times the group's sum of a): the dequantizing multiply-subtract and its two loads
    // leave the k loop.
    const { G, steps } = grouped;
    const g0 = `${prefix}_g0`;
    const sum = (i: number) => `${prefix}_xs${i}`;
    const atGroup = (e: IExpr) => vectorTerm(substituteVars(e, new Map([[k, variable(g0)]])), `${s.b.index}_lane`, p)!.print(isa.width);
    const [first] = steps;
    return [
      `${inner}{`,
      ...(aPointers ? aStreams.map(({ i, stream }) => `${deeper}const float* ${prefix}_pa${i} = ${stream!.base};`) : []),
      ...cTile.map((e) => `${deeper}${isa.type} ${c(e.i, e.q, 0)} = ${isa.intrinsics}loadu_ps(${e.address});`),
      `${deeper}for (int ${g0} = 0; ${g0} < ${count}; ${g0} += ${G}) {`,
      ...range(0, sets).flatMap((u) => cTile.map((e) => `${deeper}  ${isa.type} ${c(e.i, e.q, u + 1)} = ${isa.intrinsics}setzero_ps();`)),
      ...(first[0].offset ? tile.rows.map((i) => `${deeper}  float ${sum(i)} = 0.0f;`) : []),
      `${deeper}  for (${k} = ${g0}; ${k} < ${g0} + ${G}; ${k} += ${sets}) {`,
      ...steps.flatMap((terms, u) => {
        const kAt = kPlus(u);
        const kAtU = new Map([[k, kAt]]);
        return [
          `${deeper}    {`,
          ...terms.map((term, q) => `${deeper}    const ${isa.type} ${prefix}_b${q} = ${term.value.print(isa.width)};`),
          ...tile.rows.flatMap((i) => [
            `${deeper}    const float ${prefix}_x${i} = ${broadcastOf(i, kAt, kAtU)};`,
            ...(first[0].offset ? [`${deeper}    ${sum(i)} += ${prefix}_x${i};`] : []),
            `${deeper}    const ${isa.type} ${prefix}_a${i} = ${isa.intrinsics}set1_ps(${prefix}_x${i});`,
            ...vectors.map((q) => `${deeper}    ${c(i, q, u + 1)} = ${fma}(${prefix}_a${i}, ${prefix}_b${q}, ${c(i, q, u + 1)});`),
          ]),
          `${deeper}    }`,
        ];
      }),
      `${deeper}  }`,
      ...first.flatMap((term, q) => [
        `${deeper}  {`,
        `${deeper}    const ${isa.type} ${prefix}_s${q} = ${atGroup(term.scale)};`,
        ...(term.offset ? [`${deeper}    const ${isa.type} ${prefix}_m${q} = ${atGroup(term.offset)};`] : []),
        ...tile.rows.flatMap((i) => {
          const summed = range(2, sets + 1).reduce((acc, u) => `${isa.intrinsics}add_ps(${acc}, ${c(i, q, u)})`, c(i, q, 1));
          return [
            `${deeper}    ${c(i, q, 0)} = ${fma}(${prefix}_s${q}, ${summed}, ${c(i, q, 0)});`,
            ...(term.offset ? [`${deeper}    ${c(i, q, 0)} = ${isa.intrinsics}fnmadd_ps(${prefix}_m${q}, ${isa.intrinsics}set1_ps(${sum(i)}), ${c(i, q, 0)});`] : []),
          ];
        }),
        `${deeper}  }`,
      ]),
      `${deeper}}`,
      ...cTile.map((e) => `${deeper}${isa.intrinsics}storeu_ps(${e.address}, ${c(e.i, e.q, 0)});`),
      `${inner}}`,
    ];
  }
  return [
    `${inner}{`,
    ...(aPointers ? aStreams.map(({ i, stream }) => `${deeper}const float* ${prefix}_pa${i} = ${stream!.base};`) : []),
    ...cTile.map((e) => `${deeper}${isa.type} ${c(e.i, e.q, 0)} = ${isa.intrinsics}loadu_ps(${e.address});`),
    ...range(1, sets).flatMap((u) => cTile.map((e) => `${deeper}${isa.type} ${c(e.i, e.q, u)} = ${isa.intrinsics}setzero_ps();`)),
    ...(sets > 1 ? [`${deeper}for (; ${k} + ${sets} <= ${count}; ${k} += ${sets}) {`, ...range(0, sets).flatMap((u) => step(u, kPlus(u), sets)), `${deeper}}`] : []),
    // A fixed count the sets divide leaves no single steps (GCC, not seeing that, warned of
    // overflow in the dead loop's indices).
    ...(sets > 1 && s.count.op === "const" && s.count.value % sets === 0 ? [] : [`${deeper}for (; ${k} < ${count}; ++${k}) {`, ...step(0, variable(k)), `${deeper}}`]),
    ...range(1, sets).flatMap((u) => cTile.map((e) => `${deeper}${c(e.i, e.q, 0)} = ${isa.intrinsics}add_ps(${c(e.i, e.q, 0)}, ${c(e.i, e.q, u)});`)),
    ...cTile.map((e) => `${deeper}${isa.intrinsics}storeu_ps(${e.address}, ${c(e.i, e.q, 0)});`),
    `${inner}}`,
  ];
}

/**
 * Accumulator sets for a pass of `vectors` accumulators: enough independent FMA chains to hide the
 * latency, up to 4 sets and the register budget. Measured on a Zen 5 core with an f16 panel in L1
 * (GFLOP/s of a 229 peak): 6 rows x 16 in one set 161-165, in two 179-192, in three or four
 * 176-180; 4 rows in two sets 167-169 against 166-169 in three or four.
 */
function accumulatorSets(vectors: number, isa: VectorIsa): number {
  return Math.max(1, Math.min(4, Math.ceil(isa.chains / vectors), Math.floor(isa.accumulators / vectors)));
}
