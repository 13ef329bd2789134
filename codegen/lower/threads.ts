// Lowers a specialised kernel IR to the thread-level IR. Program-level code runs uniformly on
// every thread; forEach spreads its iterations over threads (then a barrier); a program-level
// reduction becomes per-thread partials plus a block all-reduce; program-level stores are done by
// the leader thread. Inside a thread loop, nested forEach and reductions run sequentially.
import { compileError } from "../frontend/errors.ts";
import type { Span } from "../frontend/kast.ts";
import type { IExpr, IStmt, KernelIR, TileOperand } from "../ir/types.ts";
import { mapChildren, substituteVars } from "../ir/walk.ts";
import type { MmaOperandType, MmaTiling, TStmt, ThreadKernel } from "./thread-ir.ts";

type Level = "program" | "thread";

/** A dotTile's rows or cols, which must be a compile-time constant once the kernel is specialised. */
export function tileExtent(e: IExpr, what: string, span: Span): number {
  if (e.op !== "const" || e.value < 1) throw compileError(span, `dotTile ${what} must be a positive compile-time constant (a Const parameter or literal)`);
  return e.value;
}

/** k elements staged per chunk of a tensor-core dotTile (two f16/bf16 mma k steps, one e4m3). */
const mmaChunk = 32;

/**
 * Per operand type: k per mma step, and elements per staged row. The padding past the chunk (16
 * bytes) puts the 8 rows a fragment load reads 4 or 12 banks apart, so the warp's 32 words land in
 * 32 different banks.
 */
const mmaShapes: Record<MmaOperandType, { kStep: 16 | 32; stride: number }> = {
  f16: { kStep: 16, stride: mmaChunk + 8 },
  bf16: { kStep: 16, stride: mmaChunk + 8 },
  fp8e4m3: { kStep: 32, stride: mmaChunk + 16 },
};

/**
 * The tensor-core tiling of a dotTile, or undefined where mma does not apply: both operands must
 * be plain loads from tensors of one dtype tensor cores take (f16, bf16 or e4m3, so staging them
 * as stored is exact and the result differs from the reference only in summation order), rows a
 * multiple of 16, cols of 8, and the 16 x 8 tiles must split evenly over the program's warps. Of
 * the even splits, the one whose warps load the fewest fragments per k step (warpRows + warpCols)
 * wins.
 */
function mmaTiling(ir: KernelIR, s: Extract<IStmt, { op: "dotTile" }>, rows: number, cols: number): MmaTiling | undefined {
  const global = (term: IExpr) => (term.op === "load" ? ir.params.find((p) => p.kind === "global" && p.name === term.global) : undefined);
  const a = global(s.a.term);
  const b = global(s.b.term);
  if (a?.kind !== "global" || b?.kind !== "global" || a.dtype !== b.dtype || !(a.dtype in mmaShapes)) return undefined;
  const type = a.dtype as MmaOperandType;
  if (rows % 16 !== 0 || cols % 8 !== 0) return undefined;
  const warps = ir.threads / 32;
  let best: MmaTiling | undefined;
  for (let warpsM = 1; warpsM <= warps; warpsM++) {
    const warpsN = warps / warpsM;
    if (!Number.isInteger(warpsN) || (rows / 16) % warpsM !== 0 || (cols / 8) % warpsN !== 0) continue;
    const warpRows = rows / 16 / warpsM;
    const warpCols = cols / 8 / warpsN;
    if (best && best.warpRows + best.warpCols <= warpRows + warpCols) continue;
    const { kStep, stride } = mmaShapes[type];
    best = { type, rows, cols, warpsM, warpsN, warpRows, warpCols, kStep, kSteps: mmaChunk / kStep, stride };
  }
  return best;
}

export function lowerToThreads(ir: KernelIR): ThreadKernel {
  const scratch: Record<string, number> = {};
  const mmaStaging: ThreadKernel["mmaStaging"] = {};
  let fixedThreads = false;
  let counter = 0;
  const fresh = () => `tsv_r${counter++}`;

  /**
   * Replaces reductions in `e` by fresh variables, appending the statements that compute them. It
   * rewrites top-down, so a reduction nested in another's term is computed inside the outer loop.
   */
  function hoist(e: IExpr, level: Level, out: TStmt[], span: Span): IExpr {
    if (e.op !== "reduce") return mapChildren(e, (x) => hoist(x, level, out, span));
    const count = hoist(e.count, level, out, span);
    const name = fresh();
    const identity: IExpr = { op: "const", type: "f32", value: { sum: 0, max: -Infinity, min: Infinity }[e.kind] };
    out.push({ op: "decl", name, type: "f32", init: identity, span });
    const acc: IExpr = { op: "var", type: "f32", name };
    const update: TStmt[] = [];
    const term = hoist(e.term, "thread", update, span);
    const combined: IExpr = e.kind === "sum" ? { op: "binary", type: "f32", kind: "+", left: acc, right: term } : { op: "math", type: "f32", fn: e.kind, args: [acc, term] };
    update.push({ op: "assign", name, value: combined, span });
    if (level === "program") {
      out.push({ op: "threadLoop", index: e.index, count, body: update, span });
      out.push({ op: "blockReduce", kind: e.kind, name, span });
    } else {
      out.push({ op: "for", index: e.index, start: { op: "const", type: "i32", value: 0 }, end: count, step: { op: "const", type: "i32", value: 1 }, body: update, span });
    }
    return acc;
  }

  function block(stmts: IStmt[], level: Level): TStmt[] {
    const out: TStmt[] = [];
    for (const s of stmts) lowerStmt(s, level, out);
    return out;
  }

  function lowerStmt(s: IStmt, level: Level, out: TStmt[]): void {
    const h = (e: IExpr) => hoist(e, level, out, s.span);
    switch (s.op) {
      case "decl": out.push({ ...s, init: h(s.init) }); return;
      // A CPU cache hint: a GPU program's loads are scheduled by the hardware and the lowering.
      case "prefetch": return;
      case "assign": out.push({ ...s, value: h(s.value) }); return;
      case "store":
      case "scratchStore": {
        const lowered: TStmt = s.op === "store" ? { ...s, indices: s.indices.map(h), value: h(s.value) } : { ...s, index: h(s.index), value: h(s.value) };
        if (level === "thread") out.push(lowered);
        else out.push({ op: "leader", body: [lowered], span: s.span }, { op: "barrier", span: s.span });
        return;
      }
      case "scratchDecl": {
        if (level !== "program") throw compileError(s.span, "scratch() must be declared at program level, outside forEach");
        if (s.size.op !== "const") throw compileError(s.span, "scratch size must be a compile-time constant (a Const parameter or literal)");
        scratch[s.name] = s.size.value;
        return;
      }
      case "for": out.push({ ...s, start: h(s.start), end: h(s.end), step: h(s.step), body: block(s.body, level) }); return;
      case "if": out.push({ ...s, cond: h(s.cond), then: block(s.then, level), else: block(s.else, level) }); return;
      case "dotTile": {
        if (level !== "program") throw compileError(s.span, "dotTile() must run at program level, outside forEach");
        lowerDotTile(s, h(s.at), h(s.count), out);
        return;
      }
      case "forEach": {
        const count = h(s.count);
        if (level === "program") {
          out.push({ op: "threadLoop", index: s.index, count, body: block(s.body, "thread"), span: s.span }, { op: "barrier", span: s.span });
        } else {
          out.push({ op: "for", index: s.index, start: { op: "const", type: "i32", value: 0 }, end: count, step: { op: "const", type: "i32", value: 1 }, body: block(s.body, "thread"), span: s.span });
        }
        return;
      }
    }
  }

  /**
   * Small tiles (up to a warp's worth of entries): threads stride over k, each keeping rows * cols
   * partial sums in registers; then every entry is all-reduced across the block and the leader adds
   * the tile into scratch. Larger tiles: one thread per entry, each running the whole k loop.
   */
  function lowerDotTile(s: Extract<IStmt, { op: "dotTile" }>, at: IExpr, count: IExpr, out: TStmt[]): void {
    const rows = tileExtent(s.rows, "rows", s.span);
    const cols = tileExtent(s.cols, "cols", s.span);
    const tiling = mmaTiling(ir, s, rows, cols);
    if (tiling) {
      lowerDotTileMma(s, tiling, at, count, out);
      return;
    }
    if (rows * cols > 32) {
      lowerDotTilePerEntry(s, cols, rows * cols, at, count, out);
      return;
    }
    const k = fresh();
    const kVar: IExpr = { op: "var", type: "i32", name: k };
    const operand = (o: TileOperand, index: number) => substituteVars(o.term, new Map<string, IExpr>([[o.index, { op: "const", type: "i32", value: index }], [o.k, kVar]]));
    const acc = Array.from({ length: rows * cols }, () => fresh());
    for (const name of acc) out.push({ op: "decl", name, type: "f32", init: { op: "const", type: "f32", value: 0 }, span: s.span });
    const aNames = Array.from({ length: rows }, () => fresh());
    const bNames = Array.from({ length: cols }, () => fresh());
    const step: TStmt[] = [
      ...aNames.map((name, i): TStmt => ({ op: "decl", name, type: "f32", init: operand(s.a, i), span: s.span })),
      ...bNames.map((name, j): TStmt => ({ op: "decl", name, type: "f32", init: operand(s.b, j), span: s.span })),
    ];
    acc.forEach((name, ij) => {
      const product: IExpr = { op: "binary", type: "f32", kind: "*", left: { op: "var", type: "f32", name: aNames[Math.floor(ij / cols)] }, right: { op: "var", type: "f32", name: bNames[ij % cols] } };
      step.push({ op: "assign", name, value: { op: "binary", type: "f32", kind: "+", left: { op: "var", type: "f32", name }, right: product }, span: s.span });
    });
    out.push({ op: "threadLoop", index: k, count, body: step, span: s.span });
    for (const name of acc) out.push({ op: "blockReduce", kind: "sum", name, span: s.span });
    const writes = acc.map((name, ij): TStmt => {
      const index: IExpr = { op: "binary", type: "i32", kind: "+", left: at, right: { op: "const", type: "i32", value: ij } };
      const sum: IExpr = { op: "binary", type: "f32", kind: "+", left: { op: "scratchLoad", type: "f32", scratch: s.scratch, index }, right: { op: "var", type: "f32", name } };
      return { op: "scratchStore", scratch: s.scratch, index, value: sum, span: s.span };
    });
    out.push({ op: "leader", body: writes, span: s.span }, { op: "barrier", span: s.span });
  }

  /**
   * Tensor cores: k advances in chunks of 32; per chunk every thread helps stage the operands'
   * rows x 32 and cols x 32 values into shared memory as stored (zero past count), then each warp
   * runs mma over its sub-tile, accumulating in registers. The barrier before staging keeps the
   * previous chunk's mma reads ahead of the overwrite. At the end each thread adds its
   * accumulators into the scratch tile. When count is a constant multiple of 32 (a model's K),
   * no chunk has a tail: each thread stages runs of 8 consecutive k with no bounds test, written
   * as the `for j < 8` at `8 * c + j` that the CUDA emitter turns into one 16-byte load
   * (codegen/emit/cuda-vector-loads.ts), instead of 8 two-byte loads behind a branch. The staged
   * values are the operands' loads, marked raw: CUDA copies their bits rather than widening each
   * to f32 and rounding it back (which for e4m3 is a dozen instructions a byte).
   */
  function lowerDotTileMma(s: Extract<IStmt, { op: "dotTile" }>, tiling: MmaTiling, at: IExpr, count: IExpr, out: TStmt[]): void {
    fixedThreads = true;
    const acc = fresh();
    const chunk = fresh();
    const i32 = (value: number): IExpr => ({ op: "const", type: "i32", value });
    const add = (left: IExpr, right: IExpr): IExpr => ({ op: "binary", type: "i32", kind: "+", left, right });
    const mul = (left: IExpr, right: IExpr): IExpr => ({ op: "binary", type: "i32", kind: "*", left, right });
    const rem = (left: IExpr, right: IExpr): IExpr => ({ op: "binary", type: "i32", kind: "%", left, right });
    const idiv = (left: IExpr, right: IExpr): IExpr => ({ op: "math", type: "i32", fn: "idiv", args: [left, right] });
    const v = (name: string): IExpr => ({ op: "var", type: "i32", name });
    // kc = 32 * chunk: a multiple of 8, so a run of 8 from kc + 8q starts aligned.
    const kc = mul(v(chunk), i32(mmaChunk));
    const run = 8;
    const whole = count.op === "const" && Number(count.value) % mmaChunk === 0;
    /** Operand o's rows x k in [kc, kc + 32) into scratch `name`: runs of 8 k (whole chunks) or element by element, zero past count. */
    const stage = (o: TileOperand, extent: number, name: string): TStmt[] => {
      const e = fresh();
      const per = whole ? run : 1;
      const row = idiv(v(e), i32(mmaChunk / per));
      const kk = mul(rem(v(e), i32(mmaChunk / per)), i32(per));
      const store = (j: IExpr | null): TStmt => {
        const k = j ? add(add(kc, kk), j) : add(kc, kk);
        const index = j ? add(add(mul(row, i32(tiling.stride)), kk), j) : add(mul(row, i32(tiling.stride)), kk);
        return { op: "scratchStore", scratch: name, index, value: substituteVars(o.term, new Map<string, IExpr>([[o.index, row], [o.k, k]])), raw: true, span: s.span };
      };
      let body: TStmt[];
      if (whole) {
        const j = fresh();
        body = [{ op: "for", index: j, start: i32(0), end: i32(run), step: i32(1), body: [store(v(j))], span: s.span }];
      } else {
        const inRange: IExpr = { op: "binary", type: "bool", kind: "<", left: add(kc, kk), right: count };
        const zero: TStmt = { op: "scratchStore", scratch: name, index: add(mul(row, i32(tiling.stride)), kk), value: { op: "const", type: "f32", value: 0 }, span: s.span };
        body = [{ op: "if", cond: inRange, then: [store(null)], else: [zero], span: s.span }];
      }
      return [{ op: "threadLoop", index: e, count: i32((extent * mmaChunk) / per), body, span: s.span }];
    };
    const [a, b] = [fresh(), fresh()];
    mmaStaging[a] = { size: tiling.rows * tiling.stride, type: tiling.type };
    mmaStaging[b] = { size: tiling.cols * tiling.stride, type: tiling.type };
    out.push({ op: "mmaZero", acc, tiling, span: s.span });
    out.push({
      op: "for", index: chunk, start: i32(0), end: idiv(add(count, i32(mmaChunk - 1)), i32(mmaChunk)), step: i32(1), span: s.span,
      body: [{ op: "barrier", span: s.span }, ...stage(s.a, tiling.rows, a), ...stage(s.b, tiling.cols, b), { op: "barrier", span: s.span }, { op: "mma", acc, a, b, tiling, span: s.span }],
    });
    out.push({ op: "mmaStore", acc, scratch: s.scratch, at, tiling, span: s.span }, { op: "barrier", span: s.span });
  }

  function lowerDotTilePerEntry(s: Extract<IStmt, { op: "dotTile" }>, cols: number, entries: number, at: IExpr, count: IExpr, out: TStmt[]): void {
    const ij = fresh();
    const k = fresh();
    const sum = fresh();
    const entry: IExpr = { op: "var", type: "i32", name: ij };
    const colsConst: IExpr = { op: "const", type: "i32", value: cols };
    const kVar: IExpr = { op: "var", type: "i32", name: k };
    const a = substituteVars(s.a.term, new Map<string, IExpr>([[s.a.index, { op: "math", type: "i32", fn: "idiv", args: [entry, colsConst] }], [s.a.k, kVar]]));
    const b = substituteVars(s.b.term, new Map<string, IExpr>([[s.b.index, { op: "binary", type: "i32", kind: "%", left: entry, right: colsConst }], [s.b.k, kVar]]));
    const acc: IExpr = { op: "var", type: "f32", name: sum };
    const index: IExpr = { op: "binary", type: "i32", kind: "+", left: at, right: entry };
    const body: TStmt[] = [
      { op: "decl", name: sum, type: "f32", init: { op: "const", type: "f32", value: 0 }, span: s.span },
      {
        op: "for", index: k, start: { op: "const", type: "i32", value: 0 }, end: count, step: { op: "const", type: "i32", value: 1 }, span: s.span,
        body: [{ op: "assign", name: sum, value: { op: "binary", type: "f32", kind: "+", left: acc, right: { op: "binary", type: "f32", kind: "*", left: a, right: b } }, span: s.span }],
      },
      { op: "scratchStore", scratch: s.scratch, index, value: { op: "binary", type: "f32", kind: "+", left: { op: "scratchLoad", type: "f32", scratch: s.scratch, index }, right: acc }, span: s.span },
    ];
    out.push({ op: "threadLoop", index: ij, count: { op: "const", type: "i32", value: entries }, body, span: s.span }, { op: "barrier", span: s.span });
  }

  const body = block(ir.body, "program");
  return { ir, scratch, mmaStaging, fixedThreads, body };
}
