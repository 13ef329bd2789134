// FP8 W8A8 (dsl/kernels/fp8-mma.ts): activation quantization (per token, or by a static input
// scale) and the e4m3 products on tensor cores (matmulFp8Mma, whose e4m3 dotTile lowers to
// mma.sync m16n8k32) and in the GEMV shape (matmulFp8Rows). Each runs compiled on CPU and as the emulated CUDA lowering against its
// DSL reference, and against an oracle of its own: the quantizers against e4m3 rounding of x over
// max |x| / 448 per row or over the input scale, the products against float64 over the e4m3 operands times both scales.
// T = 5 and 70 leave partial token tiles, N = 37 and 72 partial column tiles; K = 96 stages whole
// 32-wide chunks (runs of 8 bytes, one 8-byte load on CUDA), K = 40 a zero-padded tail.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { emitCudaKernel } from "../../codegen/emit/cuda.ts";
import { emulate } from "../../codegen/lower/emulator.ts";
import type { TStmt } from "../../codegen/lower/thread-ir.ts";
import { lowerToThreads } from "../../codegen/lower/threads.ts";
import { float8e4m3 } from "../../dsl/dtype.ts";
import { Global } from "../../dsl/global.ts";
import { matmulFp8BlockMma, matmulFp8BlockRows, matmulFp8Mma, matmulFp8Rows, quantizeFp8Groups, quantizeFp8Rows, quantizeFp8RowsStatic } from "../../dsl/kernels/fp8-mma.ts";
import { assertClose, buildKernels, checkAgainstReference, float64Matmul, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const file = "dsl/kernels/fp8-mma.ts";
const quantizeCases: F[] = ["f32", "f16", "bf16"];
const mmaCases: { A: F; K: number; TM: number }[] = [{ A: "f32", K: 96, TM: 64 }, { A: "bf16", K: 40, TM: 64 }, { A: "f32", K: 40, TM: 32 }, { A: "f16", K: 96, TM: 32 }];
const rowsCases: F[] = ["f32", "bf16"];
const staticCases: F[] = ["f32", "bf16"];
// Block-wise: groups of BK = 32 inputs (K = 96: three), blocks of BN = 16 outputs (N = 37 leaves a short last one).
const [BK, BN] = [32, 16];
const blockMmaCases: { A: F; TM: number }[] = [{ A: "f32", TM: 64 }, { A: "bf16", TM: 32 }];
const specs: KernelSpec[] = [
  ...quantizeCases.map((A) => ({ file, exportName: "quantizeFp8Groups", spec: { dtypes: { A }, consts: { K: 96, BK } } })),
  ...blockMmaCases.map(({ A, TM }) => ({ file, exportName: "matmulFp8BlockMma", spec: { dtypes: { A }, consts: { K: 96, BN, BK, TM } } })),
  ...rowsCases.map((A) => ({ file, exportName: "matmulFp8BlockRows", spec: { dtypes: { A }, consts: { K: 96, BN, BK } } })),
  ...quantizeCases.map((A) => ({ file, exportName: "quantizeFp8Rows", spec: { dtypes: { A }, consts: { K: 96 } } })),
  ...staticCases.map((A) => ({ file, exportName: "quantizeFp8RowsStatic", spec: { dtypes: { A }, consts: { K: 96 } } })),
  ...mmaCases.map(({ A, K, TM }) => ({ file, exportName: "matmulFp8Mma", spec: { dtypes: { A }, consts: { K, TM } } })),
  ...rowsCases.map((A) => ({ file, exportName: "matmulFp8Rows", spec: { dtypes: { A }, consts: { K: 96 } } })),
];
const { irs, native } = buildKernels("test_fp8_mma", specs);
const byName = (name: string) => irs.filter((ir) => ir.name === name);
const [quantizeIrs, staticIrs, mmaIrs, rowsIrs, groupIrs, blockMmaIrs, blockRowsIrs] = ["quantizeFp8Rows", "quantizeFp8RowsStatic", "matmulFp8Mma", "matmulFp8Rows", "quantizeFp8Groups", "matmulFp8BlockMma", "matmulFp8BlockRows"].map(byName);
const exact = { abs: 0, rel: 0 };

/** Operands as quantizeFp8Rows leaves them: e4m3 activations and their per-row scales, e4m3 weights and one scale per output. */
function operands(T: number, N: number, K: number) {
  const xq = randomGlobal("fp8e4m3", [T, K], 448);
  const xScale = new Global("f32", [T], Float32Array.from({ length: T }, (_, t) => 0.0007 * (1 + (t % 9))));
  const w = randomGlobal("fp8e4m3", [N, K], 448);
  const wScale = new Global("f32", [N], Float32Array.from({ length: N }, (_, n) => 0.0003 * (1 + (n % 5))));
  const expected = (A: F) => float64Matmul(xq, N, (n, k) => w.at(n, k) * wScale.at(n), A);
  // float64Matmul has no per-row factor: fold xScale into the oracle's rows afterwards.
  const oracle = (A: F) => {
    const out = expected("f32");
    const scaled = new Global(A, [T, N]);
    for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) scaled.put(t, n, out.at(t, n) * xScale.at(t));
    return scaled;
  };
  return { xq, xScale, w, wScale, oracle };
}

quantizeIrs.forEach((ir, i) => {
  const A = quantizeCases[i];
  test(`${ir.symbol}: xScale = max |x| / 448 per row and xq = e4m3(x / xScale), with vLLM's floor for a zero row`, () => {
    const T = 4;
    const K = 96;
    const x = randomGlobal(A, [T, K], 3);
    x.put(1, 7, -250);
    for (let k = 0; k < K; k++) x.put(2, k, 0);
    const args = [x, new Global("fp8e4m3", [T, K]), new Global("f32", [T]), K];
    checkAgainstReference(quantizeFp8Rows, ir, native(ir), args, exact, { emulate: true });
    runReference(quantizeFp8Rows, args);
    const [, xq, xScale] = args as Global[];
    for (let t = 0; t < T; t++) {
      let amax = 0;
      for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(x.at(t, k)));
      const scale = Math.fround(Math.max(Math.fround(amax / 448), Math.fround(1 / (448 * 512))));
      assert.is(xScale.at(t), scale, `row ${t} scale`);
      for (let k = 0; k < K; k++) assert.is(xq.at(t, k), float8e4m3.round(Math.fround(x.at(t, k) / scale)), `xq[${t}, ${k}]`);
    }
    assert.is(xq.at(1, 7), -448, "the row's max lands on e4m3's max");
  });
});

staticIrs.forEach((ir, i) => {
  const A = staticCases[i];
  test(`${ir.symbol}: every row by the checkpoint's input scale, saturating at 448`, () => {
    const [T, K, scale] = [3, 96, Math.fround(0.0125)];
    const x = randomGlobal(A, [T, K], 3);
    x.put(2, 5, 40);
    const args = [x, new Global("f32", [1], Float32Array.of(scale)), new Global("fp8e4m3", [T, K]), new Global("f32", [T]), K];
    checkAgainstReference(quantizeFp8RowsStatic, ir, native(ir), args, exact, { emulate: true });
    runReference(quantizeFp8RowsStatic, args);
    const [, , xq, xScale] = args as Global[];
    for (let t = 0; t < T; t++) {
      assert.is(xScale.at(t), scale, `row ${t} scale`);
      for (let k = 0; k < K; k++) assert.is(xq.at(t, k), float8e4m3.round(Math.fround(x.at(t, k) / scale)), `xq[${t}, ${k}]`);
    }
    assert.is(xq.at(2, 5), 448, "40 / 0.0125 = 3200 saturates");
  });
});

mmaIrs.forEach((ir, i) => {
  const { A, K, TM } = mmaCases[i];
  for (const [T, N] of TM === 64 ? [[5, 37], [70, 72]] : [[20, 37], [70, 72]]) {
    test(`${ir.symbol} T=${T} N=${N}: CPU and emulated tensor cores match the reference and float64 over the e4m3 operands`, () => {
      const { xq, xScale, w, wScale, oracle } = operands(T, N, K);
      const args = [xq, xScale, w, wScale, new Global(A, [T, N]), K, TM];
      checkAgainstReference(matmulFp8Mma, ir, native(ir), args, tolerance[A], { emulate: true });
      const out = new Global(A, [T, N]);
      emulate(lowerToThreads(ir), [xq, xScale, w, wScale, out, K, TM]);
      assertClose(out, oracle(A), tolerance[A], `${ir.symbol} emulated vs float64`);
    });
  }
});

rowsIrs.forEach((ir, i) => {
  const A = rowsCases[i];
  for (const T of [1, 3]) {
    test(`${ir.symbol} T=${T}: the GEMV form of the same product`, () => {
      const { xq, xScale, w, wScale, oracle } = operands(T, 12, 96);
      const args = [xq, xScale, w, wScale, new Global(A, [T, 12]), 96];
      checkAgainstReference(matmulFp8Rows, ir, native(ir), args, tolerance[A], { emulate: T === 3 });
      const out = new Global(A, [T, 12]);
      runReference(matmulFp8Rows, [xq, xScale, w, wScale, out, 96]);
      assertClose(out, oracle(A), tolerance[A], `${ir.symbol} reference vs float64`);
    });
  }
});

/** Block-wise operands: e4m3 activations with a scale per token and group of BK, e4m3 weights with one per BN x BK block, and float64 over them. */
function blockOperands(T: number, N: number, K: number) {
  const xq = randomGlobal("fp8e4m3", [T, K], 448);
  const xScale = new Global("f32", [T, K / BK], Float32Array.from({ length: (T * K) / BK }, (_, i) => 0.0007 * (1 + (i % 7))));
  const w = randomGlobal("fp8e4m3", [N, K], 448);
  const wScale = new Global("f32", [Math.ceil(N / BN), K / BK], Float32Array.from({ length: (Math.ceil(N / BN) * K) / BK }, (_, i) => 0.0003 * (1 + (i % 5))));
  const oracle = (A: F) => {
    const out = new Global(A, [T, N]);
    for (let t = 0; t < T; t++)
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += xq.at(t, k) * w.at(n, k) * xScale.at(t, Math.floor(k / BK)) * wScale.at(Math.floor(n / BN), Math.floor(k / BK));
        out.put(t, n, sum);
      }
    return out;
  };
  return { xq, xScale, w, wScale, oracle };
}

groupIrs.forEach((ir, i) => {
  const A = quantizeCases[i];
  test(`${ir.symbol}: a scale per token and group of ${BK} inputs, max |x| / 448 over the group`, () => {
    const [T, K] = [3, 96];
    const x = randomGlobal(A, [T, K], 3);
    x.put(1, 40, 90);
    for (let k = 64; k < 96; k++) x.put(2, k, 0);
    const args = [x, new Global("fp8e4m3", [T, K]), new Global("f32", [T, K / BK]), K, BK];
    checkAgainstReference(quantizeFp8Groups, ir, native(ir), args, exact, { emulate: true });
    runReference(quantizeFp8Groups, args);
    const [, xq, xScale] = args as Global[];
    for (let t = 0; t < T; t++)
      for (let g = 0; g < K / BK; g++) {
        let amax = 0;
        for (let k = g * BK; k < (g + 1) * BK; k++) amax = Math.max(amax, Math.abs(x.at(t, k)));
        const scale = Math.fround(Math.max(Math.fround(amax / 448), Math.fround(1 / (448 * 512))));
        assert.is(xScale.at(t, g), scale, `scale [${t}, ${g}]`);
        for (let k = g * BK; k < (g + 1) * BK; k++) assert.is(xq.at(t, k), float8e4m3.round(Math.fround(x.at(t, k) / scale)), `xq[${t}, ${k}]`);
      }
    assert.ok(xScale.at(1, 1) > 8 * xScale.at(1, 0), "a large value only widens its own group's scale");
  });
});

blockMmaIrs.forEach((ir, i) => {
  const { A, TM } = blockMmaCases[i];
  for (const [T, N] of [[20, 37], [70, 72]]) {
    test(`${ir.symbol} T=${T} N=${N}: each ${BK}-wide slice on tensor cores, scaled by its token's and its block's scales`, () => {
      const { xq, xScale, w, wScale, oracle } = blockOperands(T, N, 96);
      checkAgainstReference(matmulFp8BlockMma, ir, native(ir), [xq, xScale, w, wScale, new Global(A, [T, N]), 96, BN, BK, TM], tolerance[A], { emulate: true });
      const out = new Global(A, [T, N]);
      emulate(lowerToThreads(ir), [xq, xScale, w, wScale, out, 96, BN, BK, TM]);
      assertClose(out, oracle(A), tolerance[A], `${ir.symbol} emulated vs float64`);
    });
  }
});

blockRowsIrs.forEach((ir, i) => {
  const A = rowsCases[i];
  test(`${ir.symbol} T=3: the GEMV form of the block-wise product`, () => {
    const { xq, xScale, w, wScale, oracle } = blockOperands(3, 37, 96);
    const args = [xq, xScale, w, wScale, new Global(A, [3, 37]), 96, BN, BK];
    checkAgainstReference(matmulFp8BlockRows, ir, native(ir), args, tolerance[A], { emulate: true });
    const out = new Global(A, [3, 37]);
    runReference(matmulFp8BlockRows, [xq, xScale, w, wScale, out, 96, BN, BK]);
    assertClose(out, oracle(A), tolerance[A], `${ir.symbol} reference vs float64`);
  });
});

const has = (stmts: TStmt[], op: TStmt["op"]): boolean =>
  stmts.some((s) => s.op === op || ((s.op === "for" || s.op === "threadLoop" || s.op === "leader") && has(s.body, op)) || (s.op === "if" && (has(s.then, op) || has(s.else, op))));

test("e4m3 operands lower to m16n8k32 e4m3 mma, staged as bytes and copied as stored", () => {
  const whole = lowerToThreads(mmaIrs[0]);
  assert.ok(has(whole.body, "mma") && whole.fixedThreads);
  const cuda = emitCudaKernel(whole);
  assert.ok(cuda.includes("tsv_warp_mma<4, 2, 4, 1, 48, TsvMmaE4m3>("), "4 x 2 mma tiles per warp, one k step of 32 per chunk, rows 48 bytes apart");
  assert.ok(cuda.includes("__shared__ __align__(16) uint8_t"), "operands staged as bytes");
  assert.ok(cuda.includes("tsv_load_vector<8>("), "K = 96 stages runs of 8 bytes as 8-byte loads");
  assert.not.ok(cuda.includes("tsv_f32_to_fp8e4m3("), "staging copies the stored bytes, never re-rounding");
  const block = emitCudaKernel(lowerToThreads(blockMmaIrs[0]));
  assert.ok(block.includes("TsvMmaE4m3>(") && block.includes("tsv_load_vector<8>("), "block-wise slices of 32 take the same e4m3 mma and 8-byte staging loads");
  const tail = emitCudaKernel(lowerToThreads(mmaIrs[1]));
  assert.ok(tail.includes("TsvMmaE4m3>(") && !tail.includes("tsv_load_vector"), "K = 40 stages byte by byte, bounds-tested");
});

test.run();
