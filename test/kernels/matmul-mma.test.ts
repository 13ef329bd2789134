// The GPU dense matmul (dsl/kernels/matmul-mma.ts): with f16/bf16 operands its 64 x 64 dotTile is
// lowered to tensor cores, so the emulated CUDA lowering (staging, barriers, the warp tiling and
// PTX's accumulator layout) runs here against the DSL reference and a float64 product; the same
// source compiles to C++ tiles on CPU and, with f32 operands, to per-entry dot products.
// T = 5 and 70 leave partial token tiles (one and two programs), N = 37 and 72 partial column
// tiles, K = 40 a partial second k chunk (zero-padded) and K = 96 three full ones. The 32-row tile
// (TM = 32, batched decode) also runs T = 20 (one partial program) and T = 70 (three). K = 96
// takes the staging in runs of 8 (16-byte loads on CUDA), K = 40 the element-wise one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { emitCudaKernel } from "../../codegen/emit/cuda.ts";
import { EmulationError, emulate } from "../../codegen/lower/emulator.ts";
import type { TStmt } from "../../codegen/lower/thread-ir.ts";
import { lowerToThreads } from "../../codegen/lower/threads.ts";
import { Global } from "../../dsl/global.ts";
import { matmulBiasMma, matmulMma } from "../../dsl/kernels/matmul-mma.ts";
import { assertClose, buildKernels, checkAgainstReference, cloneArgs, float64Matmul, randomGlobal, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
// H: the operands' dtype, A: the output's (f32 as the forward uses it, or H itself).
const cases: { H: F; A: F; K: number; TM: number }[] = [
  { H: "f16", A: "f32", K: 40, TM: 64 }, { H: "bf16", A: "bf16", K: 96, TM: 64 }, { H: "f16", A: "f16", K: 96, TM: 64 }, { H: "f32", A: "f32", K: 40, TM: 64 },
  { H: "f16", A: "f32", K: 40, TM: 32 }, { H: "bf16", A: "f32", K: 96, TM: 32 },
];
const specs: KernelSpec[] = cases.flatMap(({ H, A, K, TM }) => ["matmulMma", "matmulBiasMma"].map((exportName) => ({ file: "dsl/kernels/matmul-mma.ts", exportName, spec: { dtypes: { H, A }, consts: { K, TM } } })));
const { irs, native } = buildKernels("test_matmul_mma", specs);

function operands(H: F, T: number, N: number, K: number, TM: number, withBias: boolean) {
  const x = randomGlobal(H, [T, K]);
  const w = randomGlobal(H, [N, K]);
  const bias = randomGlobal(H, [N]);
  return { x, w, bias, args: (out: Global) => (withBias ? [x, w, bias, out, K, TM] : [x, w, out, K, TM]) };
}

irs.forEach((ir, i) => {
  const { H, A, K, TM } = cases[Math.floor(i / 2)];
  const withBias = ir.name === "matmulBiasMma";
  for (const [T, N] of TM === 64 ? [[5, 37], [70, 72]] : [[20, 37], [70, 72]]) {
    test(`${ir.symbol} T=${T} N=${N}: CPU and emulated CUDA match the reference and a float64 product`, () => {
      const { x, w, bias, args } = operands(H, T, N, K, TM, withBias);
      checkAgainstReference(withBias ? matmulBiasMma : matmulMma, ir, native(ir), args(new Global(A, [T, N])), tolerance[A], { emulate: true });
      const out = new Global(A, [T, N]);
      emulate(lowerToThreads(ir), args(out));
      assertClose(out, float64Matmul(x, N, (n, k) => w.at(n, k), A, withBias ? (n) => bias.at(n) : undefined), tolerance[A], `${ir.symbol} emulated vs float64`);
    });
  }
});

const has = (stmts: TStmt[], op: TStmt["op"]): boolean =>
  stmts.some((s) => s.op === op || ((s.op === "for" || s.op === "threadLoop" || s.op === "leader") && has(s.body, op)) || (s.op === "if" && (has(s.then, op) || has(s.else, op))));

test("half-precision operands lower to warp-tiled mma.sync (4 warps of 64 x 16), f32 operands to per-entry dot products", () => {
  const f16 = lowerToThreads(irs[0]);
  const bf16 = lowerToThreads(irs[2]);
  const f32 = lowerToThreads(irs[6]);
  assert.ok(has(f16.body, "mma") && has(bf16.body, "mma"));
  assert.not.ok(has(f32.body, "mma"));
  assert.ok(f16.fixedThreads && !f32.fixedThreads);
  const cuda = emitCudaKernel(f16);
  assert.ok(cuda.includes("tsv_warp_mma<4, 2, 4, 2, 40, TsvMmaF16>("), "4 x 2 mma tiles per warp, warps side by side along columns, 2 k steps per 32-wide chunk, rows 40 halves apart");
  assert.ok(emitCudaKernel(bf16).includes(", TsvMmaBf16>("), "bf16 picks the bf16 mma");
  assert.ok(emitCudaKernel(bf16).includes("tsv_load_vector<8>(") && !cuda.includes("tsv_load_vector"), "K = 96 (whole 32-wide chunks) stages runs of 8 k as 16-byte loads; K = 40 stages element by element, bounds-tested");
  assert.ok(cuda.includes("__shared__ __align__(16) uint16_t"), "operands staged as halves");
  assert.match(cuda, /tsv_r\d+\[[^\n]*\] = x\[/, "staged by copying x's stored halves");
  assert.ok(cuda.includes("= tsv_f32_to_f16(0.00000000f)"), "the zero tail past K written as an f16");
  assert.ok(cuda.includes("tsv_warp_mma_store<4, 2, 4>("));
  const narrow = emitCudaKernel(lowerToThreads(irs[8]));
  assert.ok(narrow.includes("tsv_warp_mma<2, 2, 4, 2, 40, TsvMmaF16>("), "32-row tiles: 2 x 2 mma tiles per warp, warps side by side along columns");
});

test("the emulator catches a tensor-core lowering that stages operands without a barrier before the mma", () => {
  const tk = lowerToThreads(irs[0]);
  const dropBarrierBeforeMma = (stmts: TStmt[]): TStmt[] =>
    stmts.flatMap((s, j): TStmt[] => {
      if (s.op === "barrier" && stmts[j + 1]?.op === "mma") return [];
      if (s.op === "for") return [{ ...s, body: dropBarrierBeforeMma(s.body) }];
      return [s];
    });
  const broken = { ...tk, body: dropBarrierBeforeMma(tk.body) };
  assert.ok(has(broken.body, "mma") && JSON.stringify(broken.body) !== JSON.stringify(tk.body));
  const { args } = operands("f16", 5, 37, 40, 64, false);
  assert.throws(() => emulate(broken, cloneArgs(args(new Global("f32", [5, 37])))), (e: unknown) => e instanceof EmulationError && /race on tsv_r\d+\[/.test(e.message));
});

test.run();
