// C++ for dotTile: rows * cols dot products over one shared k loop. When every operand is a load
// that walks its tensor's last (contiguous) dim with k, and the storage is f32/f16/bf16, the tile
// becomes an AVX2/FMA micro-kernel: rows * cols __m256 accumulators in registers, each operand
// row loaded (and widened to f32) once per 8 k for the whole tile. The tail, and every other
// operand shape, run as an `omp simd` reduction loop, which is also the whole tile on targets
// without AVX2/FMA/F16C (the prelude's TSV_AVX2_TILES).
import type { IExpr, IStmt, TileOperand } from "../ir/types.ts";
import { substituteVars } from "../ir/walk.ts";
import { tileExtent } from "../lower/threads.ts";
import type { ExprPrinter } from "./c-expr.ts";

const vectorLoad: Record<string, { pointer: string; load: string }> = {
  f32: { pointer: "const float*", load: "tsv_load8_f32" },
  f16: { pointer: "const uint16_t*", load: "tsv_load8_f16" },
  bf16: { pointer: "const uint16_t*", load: "tsv_load8_bf16" },
};

/** The operand at a fixed row/column, as a function of the loop index `k`. */
function operandAt(o: TileOperand, index: number, k: string): IExpr {
  return substituteVars(o.term, new Map<string, IExpr>([[o.index, { op: "const", type: "i32", value: index }], [o.k, { op: "var", type: "i32", name: k }]]));
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

/** A pointer to the operand's element at k = 0 when the operand is a unit-stride load in k. */
function contiguousRow(e: IExpr, k: string, p: ExprPrinter): { pointer: string; base: string; load: string } | undefined {
  if (e.op !== "load") return undefined;
  const last = e.indices[e.indices.length - 1];
  if (last.op !== "var" || last.name !== k || e.indices.slice(0, -1).some((i) => mentions(i, k))) return undefined;
  const kind = vectorLoad[p.dtypeOf(e.global)];
  if (!kind) return undefined;
  const atZero = [...e.indices.slice(0, -1), { op: "const", type: "i32", value: 0 } as IExpr];
  return { pointer: kind.pointer, base: `&${e.global}[${p.offset(e.global, atZero)}]`, load: kind.load };
}

export function emitDotTile(s: Extract<IStmt, { op: "dotTile" }>, p: ExprPrinter, ind: string, prefix: string): string[] {
  const rows = tileExtent(s.rows, "rows", s.span);
  const cols = tileExtent(s.cols, "cols", s.span);
  const k = `${prefix}_k`;
  const count = p.print(s.count);
  const as = Array.from({ length: rows }, (_, i) => operandAt(s.a, i, k));
  const bs = Array.from({ length: cols }, (_, j) => operandAt(s.b, j, k));
  const sum = (i: number, j: number) => `${prefix}_s${i}_${j}`;
  const sums = as.flatMap((_, i) => bs.map((_, j) => sum(i, j)));
  const inner = ind + "  ";
  const lines = [`${ind}{`, `${inner}${sums.map((n) => `float ${n} = 0.0f;`).join(" ")}`, `${inner}int ${k} = 0;`];

  const aRows = as.map((e) => contiguousRow(e, k, p));
  const bRows = bs.map((e) => contiguousRow(e, k, p));
  if (aRows.every(Boolean) && bRows.every(Boolean)) {
    const v = (i: number, j: number) => `${prefix}_v${i}_${j}`;
    const deeper = inner + "  ";
    lines.push(
      `#if TSV_AVX2_TILES`,
      `${inner}{`,
      ...aRows.map((r, i) => `${deeper}${r!.pointer} ${prefix}_pa${i} = ${r!.base};`),
      ...bRows.map((r, j) => `${deeper}${r!.pointer} ${prefix}_pb${j} = ${r!.base};`),
      `${deeper}${as.flatMap((_, i) => bs.map((_, j) => `__m256 ${v(i, j)} = _mm256_setzero_ps();`)).join(" ")}`,
      `${deeper}for (; ${k} + 8 <= ${count}; ${k} += 8) {`,
      ...bRows.map((r, j) => `${deeper}  const __m256 ${prefix}_b${j} = ${r!.load}(${prefix}_pb${j} + ${k});`),
      ...aRows.flatMap((r, i) => [
        `${deeper}  const __m256 ${prefix}_a${i} = ${r!.load}(${prefix}_pa${i} + ${k});`,
        ...bs.map((_, j) => `${deeper}  ${v(i, j)} = _mm256_fmadd_ps(${prefix}_a${i}, ${prefix}_b${j}, ${v(i, j)});`),
      ]),
      `${deeper}}`,
      ...as.flatMap((_, i) => bs.map((_, j) => `${deeper}${sum(i, j)} = tsv_hsum8(${v(i, j)});`)),
      `${inner}}`,
      `#endif`,
    );
  }

  const kk = `${prefix}_kk`;
  const at = (e: IExpr) => p.print(substituteVars(e, new Map([[k, { op: "var", type: "i32", name: kk }]])));
  lines.push(
    `${inner}_Pragma("omp simd reduction(+:${sums.join(",")})")`,
    `${inner}for (int ${kk} = ${k}; ${kk} < ${count}; ++${kk}) {`,
    ...as.map((e, i) => `${inner}  const float ${prefix}_x${i} = ${at(e)};`),
    ...bs.map((e, j) => `${inner}  const float ${prefix}_y${j} = ${at(e)};`),
    ...as.flatMap((_, i) => bs.map((_, j) => `${inner}  ${sum(i, j)} += ${prefix}_x${i} * ${prefix}_y${j};`)),
    `${inner}}`,
    ...as.flatMap((_, i) => bs.map((_, j) => `${inner}${s.scratch}[${i * cols + j}] = ${sum(i, j)};`)),
    `${ind}}`,
  );
  return lines;
}
