// The thread-level IR: what one GPU thread of a program (CUDA block) executes. Statements are the
// kernel IR's plus explicit parallel structure: strided thread loops, block-wide all-reductions
// (warp shuffles + shared memory), barriers and leader-only sections. The CUDA emitter prints it
// and the emulator executes it, so both see exactly the same lowering.
import type { Span } from "../frontend/kast.ts";
import type { IExpr, KernelIR, ReduceKind, ValueType } from "../ir/types.ts";

export type TStmt =
  | { op: "decl"; name: string; type: ValueType; init: IExpr; span: Span }
  | { op: "assign"; name: string; value: IExpr; span: Span }
  | { op: "store"; global: string; indices: IExpr[]; value: IExpr; span: Span }
  /** raw: value is a load of a global of the scratch's own element type, copied as stored (tensor-core staging). */
  | { op: "scratchStore"; scratch: string; index: IExpr; value: IExpr; raw?: true; span: Span }
  | { op: "for"; index: string; start: IExpr; end: IExpr; step: IExpr; body: TStmt[]; span: Span }
  | { op: "if"; cond: IExpr; then: TStmt[]; else: TStmt[]; span: Span }
  /** for (index = threadIdx; index < count; index += threads) */
  | { op: "threadLoop"; index: string; count: IExpr; body: TStmt[]; span: Span }
  /** In-place all-reduce of the f32 variable `name` over every thread of the program. */
  | { op: "blockReduce"; kind: ReduceKind; name: string; span: Span }
  | { op: "barrier"; span: Span }
  /** Executed by thread 0 only (stores of program-uniform values). */
  | { op: "leader"; body: TStmt[]; span: Span }
  /** Zeroes each thread's share of the tensor-core accumulator tile `acc` (registers). */
  | { op: "mmaZero"; acc: string; tiling: MmaTiling; span: Span }
  /** Every warp adds its sub-tile of A x B^T into acc, A and B being the staged half-precision
   *  chunks (rows x k and cols x k, `stride` elements per row) in shared memory. */
  | { op: "mma"; acc: string; a: string; b: string; tiling: MmaTiling; span: Span }
  /** Each thread adds its accumulators into scratch[at + row * cols + col] (one owner per entry). */
  | { op: "mmaStore"; acc: string; scratch: string; at: IExpr; tiling: MmaTiling; span: Span };

/** Operand dtypes tensor cores multiply: f16/bf16 in steps of 16 k (m16n8k16), e4m3 in steps of 32 (m16n8k32). */
export type MmaOperandType = "f16" | "bf16" | "fp8e4m3";

/**
 * A dotTile on tensor cores (mma.sync m16n8k16 or m16n8k32, f32 accumulation): the rows x cols
 * tile is cut into 16 x 8 mma tiles, and warp w owns the warpRows x warpCols block of them at
 * block row idiv(w, warpsN), block column w % warpsN. Thread lane l holds, for each of its mma
 * tiles, the four accumulators PTX assigns it: rows l / 4 and l / 4 + 8, columns 2 (l % 4) and
 * 2 (l % 4) + 1 (the same for both shapes).
 */
export interface MmaTiling {
  type: MmaOperandType;
  rows: number;
  cols: number;
  warpsM: number;
  warpsN: number;
  /** mma tiles per warp along rows (16 each) and along columns (8 each). */
  warpRows: number;
  warpCols: number;
  /** k per mma step (16, or 32 for e4m3) and steps per staged chunk. */
  kStep: 16 | 32;
  kSteps: number;
  /** Elements per staged row: the chunk plus padding that spreads a fragment load over all banks. */
  stride: number;
}

/** Accumulators each thread holds for a tiling. */
export const mmaAccumulators = (t: MmaTiling) => t.warpRows * t.warpCols * 4;

/** The tile entry [row, col] that accumulator r of mma tile (i, j) holds in lane `lane` of warp `warp`. */
export function mmaEntry(t: MmaTiling, warp: number, lane: number, i: number, j: number, r: number): [number, number] {
  const row = Math.floor(warp / t.warpsN) * t.warpRows * 16 + i * 16 + (lane >> 2) + 8 * (r >> 1);
  const col = (warp % t.warpsN) * t.warpCols * 8 + j * 8 + 2 * (lane & 3) + (r & 1);
  return [row, col];
}

export interface ThreadKernel {
  ir: KernelIR;
  /** Shared-memory scratch arrays: name -> element count (compile-time). */
  scratch: Record<string, number>;
  /** Tensor-core operand staging: shared-memory arrays of f16/bf16/e4m3 elements, name -> size and type. */
  mmaStaging: Record<string, { size: number; type: MmaOperandType }>;
  /** Whether the lowering assumes exactly ir.threads threads (warp-tiled mma): the emulator runs with that many. */
  fixedThreads: boolean;
  body: TStmt[];
}
