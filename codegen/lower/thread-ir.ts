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
  | { op: "scratchStore"; scratch: string; index: IExpr; value: IExpr; span: Span }
  | { op: "for"; index: string; start: IExpr; end: IExpr; step: IExpr; body: TStmt[]; span: Span }
  | { op: "if"; cond: IExpr; then: TStmt[]; else: TStmt[]; span: Span }
  /** for (index = threadIdx; index < count; index += threads) */
  | { op: "threadLoop"; index: string; count: IExpr; body: TStmt[]; span: Span }
  /** In-place all-reduce of the f32 variable `name` over every thread of the program. */
  | { op: "blockReduce"; kind: ReduceKind; name: string; span: Span }
  | { op: "barrier"; span: Span }
  /** Executed by thread 0 only (stores of program-uniform values). */
  | { op: "leader"; body: TStmt[]; span: Span };

export interface ThreadKernel {
  ir: KernelIR;
  /** Shared-memory scratch arrays: name -> element count (compile-time). */
  scratch: Record<string, number>;
  body: TStmt[];
}
