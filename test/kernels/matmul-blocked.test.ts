// The cache-blocked matmul (matmulBlocked / matmulBiasBlocked) against its DSL reference (compiled
// C++ and emulated CUDA lowering) and a float64 product. T covers the decode branch (1, 3) and the
// packed-panel branch (5, 13, and 200 = two token blocks of 100); N = 37 leaves a partial 16-column
// panel; K = 100 has a tail past the last 8-wide step and K = 300 a partial second 256-chunk. A
// fixture with a transposed weight in 2 x 2 tiles covers dotTile's portable path, and the emitted
// C++ must pick each register form where it applies.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileKernel } from "../../codegen/compile.ts";
import { emitCppKernel } from "../../codegen/emit/cpp.ts";
import { Global } from "../../dsl/global.ts";
import { matmulBiasBlocked, matmulBlocked } from "../../dsl/kernels/matmul-blocked.ts";
import { matmulTransposedWeight } from "../fixtures/dot-tile-transposed.ts";
import { assertClose, buildKernels, checkAgainstReference, float64Matmul, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const N = 37;
const cases: { A: F; W: F; K: number }[] = [
  { A: "f32", W: "f32", K: 100 }, { A: "f32", W: "f32", K: 300 }, { A: "f16", W: "f16", K: 100 }, { A: "bf16", W: "bf16", K: 300 }, { A: "f32", W: "bf16", K: 100 }, { A: "f32", W: "f16", K: 300 },
];
const specs: KernelSpec[] = [
  ...cases.flatMap(({ A, W, K }) => ["matmulBlocked", "matmulBiasBlocked"].map((exportName) => ({ file: "dsl/kernels/matmul-blocked.ts", exportName, spec: { dtypes: { A, W }, consts: { K } } }))),
  { file: "test/fixtures/dot-tile-transposed.ts", exportName: "matmulTransposedWeight", spec: { dtypes: {}, consts: { K: 37 } } },
];
const { irs, native } = buildKernels("test_matmul_blocked", specs);

irs.slice(0, -1).forEach((ir, i) => {
  const { A, W, K } = cases[Math.floor(i / 2)];
  const withBias = ir.name === "matmulBiasBlocked";
  for (const T of [1, 3, 5, 13, 200]) {
    if (T === 200 && A !== "f32") continue;
    test(`${ir.symbol} T=${T} N=${N}: matches its reference and a float64 product`, () => {
      const x = randomGlobal(A, [T, K]);
      const w = randomGlobal(W, [N, K]);
      const bias = randomGlobal(W, [N]);
      const def = withBias ? matmulBiasBlocked : matmulBlocked;
      const args = (out: Global) => (withBias ? [x, w, bias, out, K] : [x, w, out, K]);
      const emulate = A === W && K === 100 && (T === 3 || T === 5);
      checkAgainstReference(def, ir, native(ir), args(new Global(A, [T, N])), tolerance[A], { emulate });
      const out = new Global(A, [T, N]);
      runReference(def, args(out));
      assertClose(out, float64Matmul(x, N, (n, k) => w.at(n, k), A, withBias ? (n) => bias.at(n) : undefined), tolerance[A], `${ir.symbol} reference vs float64`);
    });
  }
});

test("a dotTile over a transposed operand runs the portable loop and matches its reference", () => {
  const ir = irs[irs.length - 1];
  const x = randomGlobal("f32", [3, 37]);
  const wT = randomGlobal("f32", [37, 5]);
  checkAgainstReference(matmulTransposedWeight, ir, native(ir), [x, wT, new Global("f32", [3, 5]), 37], tolerance.f32, { emulate: true });
});

test("the C++ emitter picks the dot form for decode tiles, the broadcast form for panel tiles, neither for 2 x 2 transposed tiles", () => {
  const blocked = emitCppKernel(compileKernel("dsl/kernels/matmul-blocked.ts", "matmulBlocked", { dtypes: { A: "f32", W: "bf16" }, consts: { K: 64 } }));
  assert.is(blocked.split("#if TSV_AVX2_TILES").length - 1, 3);
  assert.ok(blocked.includes("tsv_load8_bf16(tsv_t0_pb7 + tsv_t0_k)"), "decode: 8 weight rows loaded along k");
  assert.ok(blocked.includes("const __m256 tsv_t1_a2 = tsv_load8_f32(tsv_t1_pa2 + tsv_t1_k);"), "batched decode: 3 token rows along k");
  assert.ok(blocked.includes("const __m256 tsv_t1_b3 = tsv_load8_bf16(tsv_t1_pb3 + tsv_t1_k);"), "batched decode: 4 weight rows along k");
  assert.ok(blocked.includes("const float* tsv_t2_row = &panel_matmulBlock0[((tsv_t2_k * 16) + 0)];"), "prefill: a panel row per k (the helper's locals renamed apart)");
  assert.ok(blocked.includes("const __m256 tsv_t2_b1 = tsv_load8_f32(tsv_t2_row + 8);"), "prefill: two panel vectors per k");
  assert.ok(blocked.includes("__m256 tsv_t2_c5_1 = _mm256_loadu_ps(&acc[(tt_matmulBlock0 * 16) + 88]);"), "prefill: 6 x 2 accumulators loaded from the block");
  assert.is(blocked.split("_mm256_fmadd_ps").length - 1, 8 + 12 + 12);
  const transposed = emitCppKernel(irs[irs.length - 1]);
  assert.not.ok(transposed.includes("TSV_AVX2_TILES"));
  assert.ok(transposed.includes("omp simd reduction(+:tsv_t0_s0_0,tsv_t0_s0_1,tsv_t0_s1_0,tsv_t0_s1_1)"));
});

test.run();
