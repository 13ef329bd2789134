// Quantized matmuls: GGUF Q8_0 / Q4_0 blocks (random bytes with small f16 scales; the oracle is the
// loader's dequantizer, runtime/loader/gguf-quants.ts, then a float64 matmul), GPTQ int4 with
// group scales and packed zeros (the oracle unpacks with its own loop), and the weight-only fp8
// matmul with a scale per output or per block (oracle: float64 over x and the scaled fp8 weights;
// fp8-mma.test.ts has the W8A8 form). Each format's
// dequantize kernel writes exactly the weights its matmul stands for, rounded once to the output
// dtype (oracles: the loader's GGUF dequantizer, the unpacked GPTQ values, fp8 times scale). Compiled and emulated kernels
// are checked against the DSL reference too.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { f32ToF16Bits } from "../../dsl/dtype.ts";
import { Global } from "../../dsl/global.ts";
import { dequantizeFp8BlockWeights, dequantizeFp8Weights, matmulFp8BlockWeights, matmulFp8Weights } from "../../dsl/kernels/fp8-matmul.ts";
import { dequantizeQ4_0, dequantizeQ8_0, matmulQ4_0, matmulQ8_0 } from "../../dsl/kernels/gguf-matmul.ts";
import { dequantizeInt4, matmulInt4 } from "../../dsl/kernels/int4-matmul.ts";
import { dequantizeQ4_0 as loaderQ4_0, dequantizeQ8_0 as loaderQ8_0 } from "../../runtime/loader/gguf-quants.ts";
import { assertClose, buildKernels, checkAgainstReference, float64Matmul, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const floats: F[] = ["f32", "f16", "bf16"];
const K = 256;
const N = 12;
const G = 64;
// fp8 scale blocks: 3 rows of blocks over N, and BK not dividing K, so the last column of blocks is short.
const BN = 4;
const BK = 96;
const blockScales = () => new Global("f32", [N / BN, Math.ceil(K / BK)], Float32Array.from({ length: (N / BN) * Math.ceil(K / BK) }, (_, i) => 0.0011 * (1 + i)));
const blockScale = (wScale: Global, n: number, k: number) => wScale.at(Math.floor(n / BN), Math.floor(k / BK));
const specs: KernelSpec[] = [
  ...floats.flatMap((A) => ["matmulQ8_0", "matmulQ4_0"].map((exportName) => ({ file: "dsl/kernels/gguf-matmul.ts", exportName, spec: { dtypes: { A }, consts: { K } } }))),
  ...floats.map((A) => ({ file: "dsl/kernels/int4-matmul.ts", exportName: "matmulInt4", spec: { dtypes: { A, S: A === "f32" ? "f16" : A }, consts: { K, G } } })),
  ...floats.flatMap((A): KernelSpec[] => [
    { file: "dsl/kernels/fp8-matmul.ts", exportName: "matmulFp8Weights", spec: { dtypes: { A }, consts: { K } } },
    { file: "dsl/kernels/fp8-matmul.ts", exportName: "matmulFp8BlockWeights", spec: { dtypes: { A }, consts: { K, BN, BK } } },
  ]),
  ...floats.flatMap((H): KernelSpec[] => [
    { file: "dsl/kernels/fp8-matmul.ts", exportName: "dequantizeFp8Weights", spec: { dtypes: { H }, consts: { K } } },
    { file: "dsl/kernels/fp8-matmul.ts", exportName: "dequantizeFp8BlockWeights", spec: { dtypes: { H }, consts: { K, BN, BK } } },
    { file: "dsl/kernels/gguf-matmul.ts", exportName: "dequantizeQ8_0", spec: { dtypes: { H }, consts: { K } } },
    { file: "dsl/kernels/gguf-matmul.ts", exportName: "dequantizeQ4_0", spec: { dtypes: { H }, consts: { K } } },
    { file: "dsl/kernels/int4-matmul.ts", exportName: "dequantizeInt4", spec: { dtypes: { H, S: H === "f32" ? "f16" : H }, consts: { K, G } } },
  ]),
];
const { irs, native } = buildKernels("test_quant_matmul", specs);
/** The matmuls' activation dtype: x's, their first parameter. */
const outDtype = (ir: (typeof irs)[number]) => (ir.params[0] as { dtype: F }).dtype;

let state = 99;
const nextByte = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24);

/** N rows of K / 32 GGUF blocks with random quants and f16 scales in [0.002, 0.02). */
function ggufWeights(blockBytes: number): { bytes: Uint8Array; global: Global } {
  const bytes = new Uint8Array((N * K * blockBytes) / 32);
  for (let b = 0; b < bytes.length; b += blockBytes) {
    const scale = f32ToF16Bits(0.002 + (nextByte() / 256) * 0.018);
    bytes[b] = scale & 0xff;
    bytes[b + 1] = scale >> 8;
    for (let j = 2; j < blockBytes; j++) bytes[b + j] = nextByte();
  }
  return { bytes, global: new Global("u8", [N, (K / 32) * blockBytes], Int32Array.from(bytes)) };
}

/** GPTQ packing: 8 rows per qweight word, 8 columns per qzeros word, nibble i at bits 4i. */
function gptqWeights(S: F) {
  const q = Array.from({ length: K }, () => Array.from({ length: N }, () => nextByte() & 15));
  const zeros = Array.from({ length: K / G }, () => Array.from({ length: N }, () => nextByte() & 15));
  const qweight = new Global("i32", [K / 8, N]);
  for (let r = 0; r < K / 8; r++) for (let n = 0; n < N; n++) qweight.put(r, n, q.slice(8 * r, 8 * r + 8).reduce((w, row, i) => w | (row[n] << (4 * i)), 0));
  const qzeros = new Global("i32", [K / G, Math.ceil(N / 8)]);
  for (let g = 0; g < K / G; g++) for (let c = 0; c < Math.ceil(N / 8); c++) qzeros.put(g, c, zeros[g].slice(8 * c, 8 * c + 8).reduce((w, z, i) => w | (z << (4 * i)), 0));
  const scales = randomGlobal(S, [K / G, N], 0.05);
  return { qweight, qzeros, scales, weight: (n: number, k: number) => (q[k][n] - zeros[Math.floor(k / G)][n]) * scales.at(Math.floor(k / G), n) };
}

/** The dequantize kernels: [N, K] in H from each format, against the values the format stands for. */
function dequantizeTest(ir: (typeof irs)[number]): void {
  const H = (ir.params.find((p) => p.name === "out") as { dtype: F }).dtype;
  const expect = (value: (n: number, k: number) => number) => {
    const values = new Global(H, [N, K]);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) values.put(n, k, value(n, k));
    return values;
  };
  const exact = { abs: 0, rel: 0 };
  test(`${ir.symbol}: the weights the format stands for, rounded once to ${H}`, () => {
    const out = new Global(H, [N, K]);
    let args: (Global | number)[];
    let expected: Global;
    if (ir.name === "dequantizeFp8Weights") {
      const w = randomGlobal("fp8e4m3", [N, K], 300);
      const wScale = new Global("f32", [N], Float32Array.from({ length: N }, (_, n) => 0.0013 * (1 + n)));
      args = [w, wScale, out, K];
      expected = expect((n, k) => Math.fround(w.at(n, k) * wScale.at(n)));
    } else if (ir.name === "dequantizeFp8BlockWeights") {
      const w = randomGlobal("fp8e4m3", [N, K], 300);
      const wScale = blockScales();
      args = [w, wScale, out, K, BN, BK];
      expected = expect((n, k) => Math.fround(w.at(n, k) * blockScale(wScale, n, k)));
    } else if (ir.name === "dequantizeInt4") {
      const { qweight, qzeros, scales, weight } = gptqWeights((ir.params[1] as { dtype: F }).dtype);
      args = [qweight, scales, qzeros, out, K, G];
      expected = expect(weight);
    } else {
      const q8 = ir.name === "dequantizeQ8_0";
      const { bytes, global: w } = ggufWeights(q8 ? 34 : 18);
      const dense = q8 ? loaderQ8_0(bytes) : loaderQ4_0(bytes);
      args = [w, out, K];
      expected = expect((n, k) => dense[n * K + k]);
    }
    const def = { dequantizeFp8Weights, dequantizeFp8BlockWeights, dequantizeInt4, dequantizeQ8_0, dequantizeQ4_0 }[ir.name as "dequantizeQ8_0"];
    checkAgainstReference(def, ir, native(ir), args, exact, { emulate: H === "bf16" });
    runReference(def, args);
    assertClose(out, expected, exact, `${ir.symbol} reference`);
  });
}

for (const ir of irs) {
  if (ir.name.startsWith("dequantize")) {
    dequantizeTest(ir);
    continue;
  }
  const A = outDtype(ir);
  for (const T of [1, 3]) {
    const emulate = T === 3 && A === "f32";
    if (ir.name === "matmulQ8_0" || ir.name === "matmulQ4_0") {
      const q8 = ir.name === "matmulQ8_0";
      test(`${ir.symbol} T=${T}: matches its reference and the loader's dequantized weights`, () => {
        const { bytes, global: w } = ggufWeights(q8 ? 34 : 18);
        const x = randomGlobal(A, [T, K]);
        const def = q8 ? matmulQ8_0 : matmulQ4_0;
        checkAgainstReference(def, ir, native(ir), [x, w, new Global(A, [T, N]), K], tolerance[A], { emulate });
        const dense = q8 ? loaderQ8_0(bytes) : loaderQ4_0(bytes);
        const out = new Global(A, [T, N]);
        runReference(def, [x, w, out, K]);
        assertClose(out, float64Matmul(x, N, (n, k) => dense[n * K + k], A), tolerance[A], `${ir.symbol} reference vs dequantized`);
      });
    } else if (ir.name === "matmulInt4") {
      test(`${ir.symbol} T=${T}: (q - zero) * scale per group of ${G}, GPTQ packing`, () => {
        const S = (ir.params[2] as { dtype: F }).dtype;
        const { qweight, qzeros, scales, weight } = gptqWeights(S);
        const x = randomGlobal(A, [T, K]);
        const args = [x, qweight, scales, qzeros, new Global(A, [T, N]), K, G];
        checkAgainstReference(matmulInt4, ir, native(ir), args, tolerance[A], { emulate });
        const out = new Global(A, [T, N]);
        runReference(matmulInt4, [x, qweight, scales, qzeros, out, K, G]);
        assertClose(out, float64Matmul(x, N, weight, A), tolerance[A], `${ir.symbol} reference vs unpacked`);
      });
    } else if (ir.name === "matmulFp8Weights") {
      test(`${ir.symbol} T=${T}: x against fp8 weights, a scale per output`, () => {
        const x = randomGlobal(A, [T, K]);
        const w = randomGlobal("fp8e4m3", [N, K], 300);
        const wScale = new Global("f32", [N], Float32Array.from({ length: N }, (_, n) => 0.001 * (1 + n)));
        checkAgainstReference(matmulFp8Weights, ir, native(ir), [x, w, wScale, new Global(A, [T, N]), K], tolerance[A], { emulate });
        const out = new Global(A, [T, N]);
        runReference(matmulFp8Weights, [x, w, wScale, out, K]);
        assertClose(out, float64Matmul(x, N, (n, k) => w.at(n, k) * wScale.at(n), A), tolerance[A], `${ir.symbol} reference vs float64`);
      });
    } else {
      test(`${ir.symbol} T=${T}: x against fp8 weights, a scale per ${BN} x ${BK} block`, () => {
        const x = randomGlobal(A, [T, K]);
        const w = randomGlobal("fp8e4m3", [N, K], 300);
        const wScale = blockScales();
        checkAgainstReference(matmulFp8BlockWeights, ir, native(ir), [x, w, wScale, new Global(A, [T, N]), K, BN, BK], tolerance[A], { emulate });
        const out = new Global(A, [T, N]);
        runReference(matmulFp8BlockWeights, [x, w, wScale, out, K, BN, BK]);
        assertClose(out, float64Matmul(x, N, (n, k) => w.at(n, k) * blockScale(wScale, n, k), A), tolerance[A], `${ir.symbol} reference vs float64`);
      });
    }
  }
}

test.run();
