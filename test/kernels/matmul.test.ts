// Dense matmul (x [T, K] times an HF-layout weight [N, K]) with and without bias, as one program per
// output (matmul.ts) and as one program per weight row running every token (matmul-decode.ts, the
// GPU's decode GEMV): compiled C++ and the emulated CUDA lowering against the DSL reference, and the
// reference against a float64 dot product. T covers decode (1), a small batch and a ragged prefill
// chunk; K is not a multiple of the thread count.
import { test } from "uvu";
import { Global } from "../../dsl/global.ts";
import { matmul, matmulBias } from "../../dsl/kernels/matmul.ts";
import { matmulBiasDecode, matmulDecode } from "../../dsl/kernels/matmul-decode.ts";
import { assertClose, buildKernels, checkAgainstReference, float64Matmul, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const K = 96;
const N = 40;
const types: { A: F; W: F }[] = [{ A: "f32", W: "f32" }, { A: "f16", W: "f16" }, { A: "bf16", W: "bf16" }, { A: "f32", W: "bf16" }];
const variants = [
  { file: "dsl/kernels/matmul.ts", exportName: "matmul", kernel: matmul, bias: false },
  { file: "dsl/kernels/matmul.ts", exportName: "matmulBias", kernel: matmulBias, bias: true },
  { file: "dsl/kernels/matmul-decode.ts", exportName: "matmulDecode", kernel: matmulDecode, bias: false },
  { file: "dsl/kernels/matmul-decode.ts", exportName: "matmulBiasDecode", kernel: matmulBiasDecode, bias: true },
] as const;
const specs: KernelSpec[] = types.flatMap(({ A, W }) => variants.map(({ file, exportName }) => ({ file, exportName, spec: { dtypes: { A, W }, consts: { K } } })));
const { irs, native } = buildKernels("test_matmul", specs);

irs.forEach((ir, i) => {
  const { A, W } = types[Math.floor(i / variants.length)];
  const { kernel, bias: hasBias } = variants[i % variants.length];
  for (const T of [1, 5, 7]) {
    test(`${ir.symbol} T=${T}: matches its reference and a float64 dot product`, () => {
      const x = randomGlobal(A, [T, K]);
      const w = randomGlobal(W, [N, K]);
      const bias = hasBias ? randomGlobal(W, [N]) : null;
      const args = bias ? [x, w, bias, new Global(A, [T, N]), K] : [x, w, new Global(A, [T, N]), K];
      checkAgainstReference(kernel, ir, native(ir), args, tolerance[A], { emulate: T !== 1 && A === W });
      const out = new Global(A, [T, N]);
      runReference(kernel, bias ? [x, w, bias, out, K] : [x, w, out, K]);
      assertClose(out, float64Matmul(x, N, (n, k) => w.at(n, k), A, bias ? (n) => bias.at(n) : undefined), tolerance[A], `${ir.symbol} reference vs float64`);
    });
  }
});

test.run();
