// The CPU matmuls over quantized panels (matmulQ8Panels, matmulQ4Panels; and the embedding
// lookups over them, embeddingQ8Panels / embeddingQ4Panels) against their DSL
// reference (compiled C++ for AVX-512 where this machine has it and for AVX2, and the emulated
// CUDA lowering) and a float64 product of the weights the panels stand for (scale * q - min, read
// from the panels by hand here). N = 37 leaves a partial last panel; T covers the decode branch
// (1, 2, 3), batched decode (5, 13) and prefill (33, and 200 = two token blocks of 100); the K
// values leave partial k chunks of 128.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { emitCppKernel } from "../../codegen/emit/cpp.ts";
import { Global } from "../../dsl/global.ts";
import { embeddingQ4Panels, embeddingQ8Panels } from "../../dsl/kernels/embedding.ts";
import { matmulQ4Panels, matmulQ8Panels } from "../../dsl/kernels/matmul-quant-panels.ts";
import { assertClose, buildKernels, checkAgainstReference, float64Matmul, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

const N = 37;
const P = Math.ceil(N / 16);
type A = "f32" | "f16" | "bf16";
const q8Cases: { A: A; K: number; G: number; MG: number }[] = [
  { A: "f32", K: 320, G: 32, MG: 320 },
  { A: "f32", K: 144, G: 16, MG: 16 },
  { A: "f16", K: 96, G: 32, MG: 32 },
];
const q4Cases: { A: A; K: number }[] = [{ A: "f32", K: 416 }, { A: "bf16", K: 96 }];
const specs: KernelSpec[] = [
  ...q8Cases.map(({ A, K, G, MG }) => ({ file: "dsl/kernels/matmul-quant-panels.ts", exportName: "matmulQ8Panels", spec: { dtypes: { A }, consts: { K, G, MG } } })),
  ...q4Cases.map(({ A, K }) => ({ file: "dsl/kernels/matmul-quant-panels.ts", exportName: "matmulQ4Panels", spec: { dtypes: { A }, consts: { K } } })),
];
const embeddingSpecs: KernelSpec[] = [
  { file: "dsl/kernels/embedding.ts", exportName: "embeddingQ8Panels", spec: { dtypes: { A: "f32" }, consts: { D: 96, G: 16, MG: 16 } } },
  { file: "dsl/kernels/embedding.ts", exportName: "embeddingQ4Panels", spec: { dtypes: { A: "bf16" }, consts: { D: 96 } } },
];
const { irs, native } = buildKernels("test_matmul_quant_panels", specs);
const avx2 = buildKernels("test_matmul_quant_panels_avx2", specs, "avx2");
const embeddings = buildKernels("test_embedding_quant_panels", embeddingSpecs);

let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const integers = (dtype: "i8" | "u8", shape: number[]) =>
  new Global(dtype, shape, Int32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(random() * 256) - (dtype === "i8" ? 128 : 0)));
const floats = (shape: number[], scale: number) => new Global("f32", shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(scale * (random() - 0.25))));

for (const [vectors, build] of [["native", native], ["avx2", avx2.native]] as const) {
  q8Cases.forEach(({ A, K, G, MG }, c) => {
    const ir = irs[c];
    for (const T of [1, 2, 3, 5, 13, 33, 200]) {
      test(`matmulQ8Panels ${A} K=${K} G=${G} MG=${MG} (${vectors} vectors) T=${T}: matches its reference and a float64 product`, () => {
        const x = randomGlobal(A, [T, K]);
        const wq = integers("i8", [P, K, 16]);
        const scales = floats([P, K / G, 16], 0.02);
        const mins = floats([P, K / MG, 16], MG === K ? 0 : 0.5);
        const args = (out: Global) => [x, wq, scales, mins, out, K, G, MG];
        checkAgainstReference(matmulQ8Panels, ir, build(ir), args(new Global(A, [T, N])), tolerance[A], { emulate: vectors === "native" && (T === 3 || T === 5) && K < 200 });
        const out = new Global(A, [T, N]);
        runReference(matmulQ8Panels, args(out));
        const weight = (n: number, k: number) => {
          const [p, j] = [Math.floor(n / 16), n % 16];
          return Math.fround(scales.at(p, Math.floor(k / G), j) * wq.at(p, k, j) - mins.at(p, Math.floor(k / MG), j));
        };
        assertClose(out, float64Matmul(x, N, weight, A), tolerance[A], "reference vs float64");
      });
    }
  });
  q4Cases.forEach(({ A, K }, c) => {
    const ir = irs[q8Cases.length + c];
    for (const T of [1, 2, 3, 5, 13, 33, 200]) {
      test(`matmulQ4Panels ${A} K=${K} (${vectors} vectors) T=${T}: matches its reference and a float64 product`, () => {
        const x = randomGlobal(A, [T, K]);
        const wq = integers("u8", [P, K / 2, 16]);
        const scales = floats([P, K / 32, 16], 0.05);
        const mins = floats([P, K / 32, 16], 0.4);
        const args = (out: Global) => [x, wq, scales, mins, out, K];
        checkAgainstReference(matmulQ4Panels, ir, build(ir), args(new Global(A, [T, N])), tolerance[A], { emulate: vectors === "native" && (T === 3 || T === 5) && K < 200 });
        const out = new Global(A, [T, N]);
        runReference(matmulQ4Panels, args(out));
        // The low nibble of byte h is k = 2h, the high nibble k = 2h + 1.
        const weight = (n: number, k: number) => {
          const [p, j] = [Math.floor(n / 16), n % 16];
          const byte = wq.at(p, k >> 1, j);
          const q = k % 2 === 0 ? byte & 15 : byte >> 4;
          return Math.fround(scales.at(p, Math.floor(k / 32), j) * q - mins.at(p, Math.floor(k / 32), j));
        };
        assertClose(out, float64Matmul(x, N, weight, A), tolerance[A], "reference vs float64");
      });
    }
  });
}

test("embeddingQ8Panels and embeddingQ4Panels gather rows of quantized panels (row id: lane id % 16 of panel id / 16), scaled, as their reference and the weights they stand for", () => {
  const [D, V] = [96, N];
  const ids = new Global("i32", [5], Int32Array.of(0, 36, 17, 16, 5));
  for (const [c, ir] of embeddings.irs.entries()) {
    const A = c === 0 ? "f32" : "bf16";
    const q4 = ir.name === "embeddingQ4Panels";
    const wq = q4 ? integers("u8", [P, D / 2, 16]) : integers("i8", [P, D, 16]);
    const G = q4 ? 32 : 16;
    const scales = floats([P, D / G, 16], 0.05);
    const mins = floats([P, D / G, 16], 0.4);
    const args = (out: Global) => (q4 ? [ids, wq, scales, mins, out, 2, D] : [ids, wq, scales, mins, out, 2, D, G, G]);
    checkAgainstReference(q4 ? embeddingQ4Panels : embeddingQ8Panels, ir, embeddings.native(ir), args(new Global(A, [5, D])), tolerance[A], { emulate: true });
    const out = new Global(A, [5, D]);
    runReference(q4 ? embeddingQ4Panels : embeddingQ8Panels, args(out));
    const want = new Global("f32", [5, D]);
    for (let t = 0; t < 5; t++) {
      const [p, j] = [Math.floor(ids.at(t) / 16), ids.at(t) % 16];
      assert.ok(ids.at(t) < V);
      for (let k = 0; k < D; k++) {
        const q = q4 ? (wq.at(p, k >> 1, j) >> (4 * (k % 2))) & 15 : wq.at(p, k, j);
        want.put(t, k, 2 * (scales.at(p, Math.floor(k / G), j) * q - mins.at(p, Math.floor(k / G), j)));
      }
    }
    assertClose(out, want, tolerance[A], `${ir.symbol} reference vs the panels' weights`);
  }
});

test("the quantized panels run the vector micro-kernel: packed bytes widened, dequantized by a fused multiply-subtract, no portable tile loop", () => {
  for (const ir of irs) {
    const source = emitCppKernel(ir);
    assert.ok(source.includes("tsv_fmsub16(tsv_cvt16("), `${ir.symbol}: 16-lane dequantization`);
    assert.ok(source.includes("tsv_fmsub8(tsv_cvt8("), `${ir.symbol}: 8-lane dequantization`);
    assert.ok(source.includes(ir.name === "matmulQ4Panels" ? "tsv_load16_u8(" : "tsv_load16_i8("), `${ir.symbol}: packed loads`);
  }
  // One or two tokens run the grouped pass: a group's value * x summed first, then its scale and
  // offset once (AVX-512; cpp-tile.ts groupedSteps).
  for (const ir of irs) assert.ok(/for \(int tsv_t\d+_g0 = 0; tsv_t\d+_g0 < \d+; tsv_t\d+_g0 \+= (16|32)\)/.test(emitCppKernel(ir)), `${ir.symbol}: grouped decode pass`);
  const q4 = emitCppKernel(irs[q8Cases.length]);
  assert.ok(q4.includes("tsv_and16(tsv_srav16("), "each k's nibble taken apart in registers");
  // A single token's two unrolled steps (k even, k + 1) read the same byte: a mask, and a shift by
  // an immediate with no mask (cpp-aligned-step.ts), over one load the compiler shares.
  assert.ok(q4.includes("tsv_and16(tsv_load16_u8(") && q4.includes("tsv_srai16(tsv_load16_u8("), "a byte's two k at constant shifts");
});

test.run();
