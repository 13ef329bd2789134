// The cache-blocked matmul (matmulBlocked / matmulBiasBlocked, weights packed into panels) against
// its DSL reference (compiled C++ and emulated CUDA lowering) and a float64 product of the unpacked
// weights. T covers the decode branch, where the programs of every fourth panel take four (the
// fourth past the last of N = 37), in 1-, 2- and 4-row tiles (1, 2, and 3 re-reading its last
// row), the batched-decode branch (5, 13) and the prefill branch (33, and 200 = two token blocks
// of 100); N = 37 leaves a partial panel (zero rows past N); K = 301 leaves a remainder after the
// k split over accumulator sets, and K = 300 and 301 a partial last chunk (of 128 k in batched
// decode, 256 in prefill). Fixtures cover dotTile's other forms: weight rows
// in 3 x 4 tiles (the dot form) and a transposed weight in 2 x 2 tiles (the portable path); the
// emitted C++ must pick each form where it applies.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { launch } from "../../codegen/build/launch.ts";
import { compileKernel } from "../../codegen/compile.ts";
import { emitCppKernel } from "../../codegen/emit/cpp.ts";
import { printKernel } from "../../codegen/ir/print.ts";
import { Global } from "../../dsl/global.ts";
import { matmulBiasBlocked, matmulBlocked, packWeightPanels, panelWidth } from "../../dsl/kernels/matmul-blocked.ts";
import { jsPanelPacker, nativePanelPacker, packFusedPanels } from "../../runtime/model/weights.ts";
import { matmulWeightRows } from "../fixtures/dot-tile-rows.ts";
import { matmulNarrowPanels } from "../fixtures/dot-tile-narrow-panels.ts";
import { matmulTransposedWeight } from "../fixtures/dot-tile-transposed.ts";
import { assertClose, buildKernels, checkAgainstReference, float64Matmul, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const N = 37;
const cases: { A: F; W: F; K: number }[] = [
  { A: "f32", W: "f32", K: 100 }, { A: "f32", W: "f32", K: 300 }, { A: "f16", W: "f16", K: 100 }, { A: "bf16", W: "bf16", K: 300 }, { A: "f32", W: "bf16", K: 100 }, { A: "f32", W: "f16", K: 301 },
];
const specs: KernelSpec[] = [
  ...cases.flatMap(({ A, W, K }) => ["matmulBlocked", "matmulBiasBlocked"].map((exportName) => ({ file: "dsl/kernels/matmul-blocked.ts", exportName, spec: { dtypes: { A, W }, consts: { K } } }))),
  { file: "test/fixtures/dot-tile-rows.ts", exportName: "matmulWeightRows", spec: { dtypes: { W: "f16" }, consts: { K: 37 } } },
  { file: "test/fixtures/dot-tile-transposed.ts", exportName: "matmulTransposedWeight", spec: { dtypes: {}, consts: { K: 37 } } },
  { file: "test/fixtures/dot-tile-narrow-panels.ts", exportName: "matmulNarrowPanels", spec: { dtypes: {}, consts: { K: 37 } } },
];
const { irs, native, services } = buildKernels("test_matmul_blocked", specs);
// The same kernels as built for a machine with AVX2 and no AVX-512: on machines with both, the
// native build runs the 16-lane tiles and this one the 8-lane tiles.
const avx2 = buildKernels("test_matmul_blocked_avx2", specs, "avx2");

for (const [vectors, build] of [["native", native], ["avx2", avx2.native]] as const) irs.slice(0, -3).forEach((ir, i) => {
  const { A, W, K } = cases[Math.floor(i / 2)];
  const withBias = ir.name === "matmulBiasBlocked";
  for (const T of [1, 2, 3, 5, 13, 33, 200]) {
    if (T === 200 && A !== "f32") continue;
    test(`${ir.symbol} (${vectors} vectors) T=${T} N=${N}: matches its reference and a float64 product`, () => {
      const x = randomGlobal(A, [T, K]);
      const w = randomGlobal(W, [N, K]);
      const wp = new Global(W, [Math.ceil(N / panelWidth), K, panelWidth], packWeightPanels(w.data as Float32Array, N, K));
      const bias = randomGlobal(W, [N]);
      const def = withBias ? matmulBiasBlocked : matmulBlocked;
      const args = (out: Global) => (withBias ? [x, wp, bias, out, K] : [x, wp, out, K]);
      const emulate = vectors === "native" && A === W && K === 100 && (T === 3 || T === 5 || T === 33);
      checkAgainstReference(def, ir, build(ir), args(new Global(A, [T, N])), tolerance[A], { emulate });
      const out = new Global(A, [T, N]);
      runReference(def, args(out));
      assertClose(out, float64Matmul(x, N, (n, k) => w.at(n, k), A, withBias ? (n) => bias.at(n) : undefined), tolerance[A], `${ir.symbol} reference vs float64`);
    });
  }
});

test("the thread pool: a launch split over 1, 2 or 3 threads gives the same bits, back to back and after its workers have gone to sleep", async () => {
  const ir = irs[0];
  const [T, K] = [200, 100];
  const x = randomGlobal("f32", [T, K]);
  const w = randomGlobal("f32", [N, K]);
  const wp = new Global("f32", [Math.ceil(N / panelWidth), K, panelWidth], packWeightPanels(w.data as Float32Array, N, K));
  const outputs: Global[] = [];
  for (const threads of [1, 2, 3]) {
    services.setNumThreads(threads);
    for (let i = 0; i < 40; i++) {
      // Pauses well past the workers' spin window, so some launches find them asleep.
      if (i % 8 === 7) await new Promise((resolve) => setTimeout(resolve, 3));
      const out = new Global("f32", [T, N]);
      launch(native(ir), ir, [x, wp, out, K]);
      outputs.push(out);
    }
  }
  services.setNumThreads(0);
  for (const out of outputs) assert.equal(out.data, outputs[0].data);
  assertClose(outputs[0], float64Matmul(x, N, (n, k) => w.at(n, k), "f32"), tolerance.f32, "pooled launch vs float64");
});

test("the native load-time packer writes exactly the JS packer's panels into huge-page host buffers (f32 values and 16-bit bits; partial last panel, k past a 256 block; bad sizes refused)", () => {
  const packer = nativePanelPacker(services);
  for (const [rows, columns] of [[37, 300], [16, 5], [1, 513], [40, 0]]) {
    const f32 = Float32Array.from({ length: rows * columns }, (_, i) => Math.sin(i) * 1e3);
    const bits = Uint16Array.from({ length: rows * columns }, (_, i) => (i * 2654435761) >>> 16);
    const packed = <A extends Float32Array | Uint16Array>(w: A) => {
      const out = packer.allocate(w, rows, columns);
      packer.pack(w, out, rows, columns);
      return out;
    };
    assert.equal(packed(f32), packWeightPanels(f32, rows, columns), `f32 ${rows} x ${columns}`);
    assert.equal(packed(bits), packWeightPanels(bits, rows, columns), `u16 ${rows} x ${columns}`);
  }
  const big = new Uint8Array(services.allocateHostBuffer(5 << 20));
  assert.is(big.length, 5 << 20);
  assert.ok(big.every((b) => b === 0), "host buffers come zero-filled");
  big.fill(7);
  assert.throws(() => services.allocateHostBuffer(-1), /bytes/);
  assert.throws(() => services.packWeightPanels(new Uint16Array(10), new Uint16Array(16 * 5), 2, 4), /rows x columns/);
  assert.throws(() => services.packWeightPanels(new Uint16Array(10), new Float32Array(16 * 5), 2, 5), /same size/);
});

test("a fused weight packs to the panels of its stacked pieces, straight into its share when all but the last are whole panels (48/16/32 rows, 32/20, a lone 37) and stacked first when not (20/12 rows); both packers", () => {
  for (const packer of [jsPanelPacker, nativePanelPacker(services)])
    for (const pieceRows of [[48, 16, 32], [32, 20], [37], [20, 12]]) {
      const columns = 5;
      const pieces = pieceRows.map((r, i) => Uint16Array.from({ length: r * columns }, (_, j) => 1 + ((i * 7919 + j * 31) % 60000)));
      const whole = new Uint16Array(pieces.reduce((a, p) => a + p.length, 0));
      pieces.reduce((offset, p) => (whole.set(p, offset), offset + p.length), 0);
      const rows = whole.length / columns;
      assert.equal(packFusedPanels(pieces, "f16", rows, columns, packer), packWeightPanels(whole, rows, columns), `${pieceRows.join("/")} rows`);
    }
});

test("the panel width is a dim named by a number: the C++ strides by it and a launch with another width is refused", () => {
  const ir = irs[0];
  assert.ok(emitCppKernel(ir).includes("* 100 + tsv_t0_k) * 16 + (0 + 0))]"), "panel rows 16 apart, K = 100 folded in");
  const x = randomGlobal("f32", [3, 100]);
  const narrow = randomGlobal("f32", [5, 100, 8]);
  assert.throws(() => launch(native(ir), ir, [x, narrow, new Global("f32", [3, 37]), 100]), /dim 16 of wp is 8, expected 16/);
});

test("a dotTile over two operands contiguous in k runs the dot form and matches its reference (native and AVX2 builds; K = 37 leaves a tail after 16- and 8-wide steps)", () => {
  const x = randomGlobal("f32", [7, 37]);
  const w = randomGlobal("f16", [6, 37]);
  const ir = irs[irs.length - 3];
  checkAgainstReference(matmulWeightRows, ir, native(ir), [x, w, new Global("f32", [7, 6]), 37], tolerance.f32, { emulate: true });
  checkAgainstReference(matmulWeightRows, ir, avx2.native(ir), [x, w, new Global("f32", [7, 6]), 37], tolerance.f32);
});

test("a dotTile over a transposed operand runs the portable loop and matches its reference", () => {
  const ir = irs[irs.length - 2];
  const x = randomGlobal("f32", [3, 37]);
  const wT = randomGlobal("f32", [37, 5]);
  checkAgainstReference(matmulTransposedWeight, ir, native(ir), [x, wT, new Global("f32", [3, 5]), 37], tolerance.f32, { emulate: true });
});

test("four 8-column panels side by side: AVX2's 8-lane vectors stream one panel each, 16-lane ones would straddle two and are not emitted; matches its reference (native and AVX2 builds, emulated; N = 44 leaves the last panel partial and the fourth past the last)", () => {
  const ir = irs[irs.length - 1];
  const [T, N, K] = [3, 44, 37];
  const x = randomGlobal("f32", [T, K]);
  const w = randomGlobal("f32", [N, K]);
  const panels = Math.ceil(N / 8);
  const w8 = new Global("f32", [panels, K, 8]);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) w8.data[(Math.floor(n / 8) * K + k) * 8 + (n % 8)] = w.at(n, k);
  const code = emitCppKernel(ir);
  assert.ok(code.includes("#if TSV_AVX2_TILES") && !code.includes("TSV_AVX512_TILES"), "AVX2 form only");
  assert.ok(code.includes("const __m256 tsv_t0_b3 = tsv_load8_f32(&w8[(((int64_t)(tsv_min_i((p + 3), ((int)w8_d0 - 1))) * 37 + tsv_t0_k) * 8 + (0 + 0))]);"), "the fourth panel's row, its own stream");
  for (const build of [native, avx2.native]) checkAgainstReference(matmulNarrowPanels, ir, build(ir), [x, w8, new Global("f32", [T, N]), K], tolerance.f32, { emulate: build === native });
  const out = new Global("f32", [T, N]);
  runReference(matmulNarrowPanels, [x, w8, out, K]);
  assertClose(out, float64Matmul(x, N, (n, k) => w.at(n, k), "f32"), tolerance.f32, "reference vs float64");
});

test("the C++ emitter picks the broadcast form for panel tiles (several panels side by side, one stream per vector, k split across accumulator sets for few accumulators, the next chunk prefetched by its first tile, token rows through pointers), 16-lane tiles where AVX-512 is, 8-lane ones else, the dot form for row operands, neither for 2 x 2 transposed tiles", () => {
  const blocked = emitCppKernel(compileKernel("dsl/kernels/matmul-blocked.ts", "matmulBlocked", { dtypes: { A: "f32", W: "bf16" }, consts: { K: 64 } }));
  assert.is(blocked.split("#if TSV_AVX512_TILES").length - 1, 7, "decode of 1, 2 and up to 4 tokens, then the first and the other tiles of a chunk for batched decode and for prefill");
  assert.is(blocked.split("#elif TSV_AVX2_TILES").length - 1, 7, "each with an AVX2 form");
  assert.is(blocked.split("#else").length - 1, 7, "and a portable one");
  // Single-token decode: four panels side by side, one broadcast of x for all their vectors.
  assert.ok(blocked.includes("const __m256 tsv_t0_b7 = tsv_load8_bf16(&wp[(((int64_t)(tsv_min_i((p + 3), last_decodePanelGroup0_panelGroupProducts4)) * 64 + tsv_t0_k) * 16 + (8 + 0))]);"), "single token, AVX2: the fourth panel's second vector, its own stream");
  assert.ok(blocked.includes("tsv_t0_c0_7 = _mm256_fmadd_ps(tsv_t0_a0, tsv_t0_b7, tsv_t0_c0_7);") && !blocked.includes("tsv_t0_a1"), "single token, AVX2: one broadcast feeds 8 vectors");
  assert.ok(blocked.includes("const __m512 tsv_t0_b3 = tsv_load16_bf16(&wp[(((int64_t)(tsv_min_i((p + 3), last_decodePanelGroup0_panelGroupProducts4)) * 64 + (tsv_t0_k + 1)) * 16 + (0 + 0))]);"), "single token, AVX-512: one vector per panel, k split in 2 sets");
  // Two tokens: each broadcast feeds the four panels' vectors; AVX2's 16 accumulators go in passes of 2 x 6 and 2 x 2 (two sets).
  assert.ok(blocked.includes("tsv_t1_c1_3 = _mm512_fmadd_ps(tsv_t1_a1, tsv_t1_b3, tsv_t1_c1_3);") && !blocked.includes("tsv_t1_c0_0_1"), "2 tokens, AVX-512: 2 x 4 accumulators in one set");
  assert.ok(blocked.includes("tsv_t1_0_c1_5 = _mm256_fmadd_ps(tsv_t1_0_a1, tsv_t1_0_b5, tsv_t1_0_c1_5);") && blocked.includes("tsv_t1_1_c1_1_1 = _mm256_fmadd_ps("), "2 tokens, AVX2: 2 x 6, then 2 x 2 in two sets");
  assert.ok(blocked.includes("const float* tsv_t2_pa3 = &x[((int64_t)(tsv_min_i(3, (T_decodePanelGroup0_panelGroupProducts4 - 1))) * 64 + 0)];"), "3 or 4 tokens: a 4-row tile, the rows past the last re-reading it");
  // More tokens: tiles over two panels side by side; AVX2 takes them in passes of one 8-lane vector.
  assert.ok(blocked.includes("(kc_panelTiles1_matmulBlock3_panelGroupProducts4 + (tsv_t3_k + 128))) * 16 + (0 + 0))], _MM_HINT_T0);"), "batched decode: the first tile prefetches the next 128-k chunk");
  assert.ok(!blocked.includes("tsv_t4_k + 128") && !blocked.includes("tsv_t6_k + 256"), "the other tiles read the chunk from L1 and prefetch nothing");
  assert.ok(printKernel(irs[0]).includes(", prefetch 256 ahead)"), "the IR printer shows the hint");
  assert.ok(blocked.includes("const __m256 tsv_t3_3_b0 = tsv_load8_bf16(&wp[(((int64_t)(tsv_min_i((p + 1), last_panelTiles1_matmulBlock3_panelGroupProducts4)) * 64 + (kc_panelTiles1_matmulBlock3_panelGroupProducts4 + tsv_t3_k)) * 16 + (8 + 0))]);"), "batched decode, AVX2: the fourth pass takes the second panel's second vector, widened on load");
  assert.ok(blocked.includes("__m256 tsv_t3_3_c7_0 = _mm256_loadu_ps(") && !blocked.includes("tsv_t3_4_"), "batched decode, AVX2: 8 tokens x 32 columns as four passes of 8 x 1 accumulators");
  assert.ok(blocked.includes("__m256 tsv_t5_1_c5_1 = _mm256_loadu_ps(") && !blocked.includes("tsv_t5_2_"), "prefill, AVX2: two passes of 6 x 2 accumulators");
  assert.is(blocked.split("_mm256_fmadd_ps").length - 1, 8 + (12 + 2 * 4) + (12 + 12 + 8) + 2 * 4 * 8 + 2 * 2 * 12, "decode of 1, 2 and 4 tokens, batched decode, prefill");
  assert.ok(blocked.includes("const float* tsv_t5_pa5 = &x[((int64_t)(tsv_min_i((t0 + 5), (T_panelTiles2_matmulBlock3_panelGroupProducts4 - 1))) * 64 + (kc_panelTiles2_matmulBlock3_panelGroupProducts4 + 0))];"), "prefill: each token row's address set once per pass");
  assert.ok(blocked.includes("const __m256 tsv_t5_1_a5 = _mm256_set1_ps(tsv_t5_1_pa5[tsv_t5_k]);"), "prefill: broadcasts through the row pointers");
  // AVX-512: one 16-lane vector per panel row, so both panels' vectors fit one pass.
  assert.ok(blocked.includes("__m512 tsv_t3_c7_1 = _mm512_loadu_ps(") && !blocked.includes("tsv_t3_c0_0_1"), "batched decode: 8 x 2 accumulators in one set");
  assert.ok(blocked.includes("__m512 tsv_t5_c5_1 = _mm512_loadu_ps(") && !blocked.includes("tsv_t5_c5_0_1"), "prefill: 6 x 2 accumulators in one set");
  assert.is(blocked.split("_mm512_fmadd_ps").length - 1, 2 * 4 + 2 * 4 + 4 * 4 + 2 * 16 + 2 * 12, "decode of 1 token: 4 vectors in 2 sets; 2 and 4 tokens, batched decode and prefill: one set");
  assert.ok(!blocked.includes("tsv_t0_k + 256") && !blocked.includes("tsv_t2_k + 256"), "decode: no software prefetch");
  assert.is(blocked.split("_mm_prefetch").length - 1, 4 + 4 + 2 + 2, "a prefetch per panel vector a k step in each chunk's first tile (AVX2: 4 passes of batched decode, 2 of 2 vectors in prefill; AVX-512: both panels' vectors)");
  const rows = emitCppKernel(irs[irs.length - 3]);
  assert.ok(rows.includes("const __m256 tsv_t0_a2 = tsv_load8_f32(tsv_t0_pa2 + tsv_t0_k);"), "dot form: 3 token rows along k");
  assert.ok(rows.includes("const __m256 tsv_t0_b3 = tsv_load8_f16(tsv_t0_pb3 + tsv_t0_k);"), "dot form: 4 weight rows along k");
  assert.ok(rows.includes("for (; tsv_t0_k + 16 <= 37; tsv_t0_k += 16) {") && rows.includes("const __m512 tsv_t0_b3 = tsv_load16_f16(tsv_t0_pb3 + tsv_t0_k);"), "dot form: 16 k a step where AVX-512 is");
  assert.ok(rows.includes("tsv_t0_s2_3 = tsv_hsum16(tsv_t0_v2_3);"));
  const transposed = emitCppKernel(irs[irs.length - 2]);
  assert.not.ok(transposed.includes("TSV_AVX2_TILES") || transposed.includes("TSV_AVX512_TILES"));
  assert.ok(transposed.includes("omp simd reduction(+:tsv_t0_s0_0,tsv_t0_s0_1,tsv_t0_s1_0,tsv_t0_s1_1)"));
});

test.run();
