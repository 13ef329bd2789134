// Embedding gather, the gated activations (SiLU*mul, GELU-tanh*mul) and addBias on f32/f16/bf16: compiled
// C++ and the emulated CUDA lowering against the DSL reference, and the reference against the
// formulas evaluated in float64.
import { test } from "uvu";
import { Global } from "../../dsl/global.ts";
import { geluTanhMul, siluMul } from "../../dsl/kernels/activations.ts";
import { addBias } from "../../dsl/kernels/elementwise.ts";
import { embedding } from "../../dsl/kernels/embedding.ts";
import { assertClose, buildKernels, checkAgainstReference, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const floats: F[] = ["f32", "f16", "bf16"];
const D = 80;
const I = 1100; // over two 512-column chunks, the last one partial
const embeddingTypes: { W: F; A: F }[] = [...floats.map((A) => ({ W: A, A })), { W: "bf16", A: "f32" }];
const specs: KernelSpec[] = [
  ...embeddingTypes.map(({ W, A }) => ({ file: "dsl/kernels/embedding.ts", exportName: "embedding", spec: { dtypes: { W, A }, consts: { D } } })),
  ...floats.flatMap((A) => ["siluMul", "geluTanhMul"].map((exportName) => ({ file: "dsl/kernels/activations.ts", exportName, spec: { dtypes: { A }, consts: { I } } }))),
  ...[...floats.map((A) => ({ A, W: A })), { A: "f32" as F, W: "f16" as F }].map(({ A, W }) => ({ file: "dsl/kernels/elementwise.ts", exportName: "addBias", spec: { dtypes: { A, W }, consts: { N: I } } })),
];
const { irs, native } = buildKernels("test_elementwise", specs);
const dtypeOf = (ir: (typeof irs)[number], param: number) => (ir.params[param].kind === "global" ? ir.params[param].dtype : "f32") as F;

function tokenIds(T: number, V: number): Global {
  const ids = new Global("i32", [T]);
  for (let t = 0; t < T; t++) ids.put(t, (t * 37 + 11) % V);
  ids.put(0, V - 1);
  return ids;
}

for (const ir of irs.filter((k) => k.name === "embedding")) {
  const [W, A] = [dtypeOf(ir, 1), dtypeOf(ir, 2)];
  for (const T of [1, 9]) {
    test(`${ir.symbol} T=${T}: gathers the rows of ids, scaled`, () => {
      const V = 50;
      const ids = tokenIds(T, V);
      const table = randomGlobal(W, [V, D]);
      const scale = Math.sqrt(D);
      checkAgainstReference(embedding, ir, native(ir), [ids, table, new Global(A, [T, D]), scale, D], tolerance[A], { emulate: T === 9 });
      const out = new Global(A, [T, D]);
      runReference(embedding, [ids, table, out, scale, D]);
      const gathered = new Global("f32", [T, D]);
      for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) gathered.put(t, d, table.at(ids.at(t), d) * scale);
      assertClose(out, gathered, tolerance[A], `${ir.symbol} reference vs gathered rows`);
    });
  }
}

const gelu = (g: number) => 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g ** 3)));
const silu = (g: number) => g / (1 + Math.exp(-g));

for (const ir of irs.filter((k) => k.name === "addBias")) {
  const [A, W] = [dtypeOf(ir, 0), dtypeOf(ir, 1)];
  for (const T of [1, 5]) {
    test(`${ir.symbol} T=${T}: x[t, i] += bias[i] in place, matching float64`, () => {
      const x = randomGlobal(A, [T, I]);
      const bias = randomGlobal(W, [I]);
      checkAgainstReference(addBias, ir, native(ir), [x, bias, I], tolerance[A], { emulate: T === 5 });
      const out = randomGlobal(A, [T, I]);
      out.data.set(x.data);
      runReference(addBias, [out, bias, I]);
      const exact = new Global("f32", [T, I]);
      for (let t = 0; t < T; t++) for (let i = 0; i < I; i++) exact.put(t, i, x.at(t, i) + bias.at(i));
      assertClose(out, exact, tolerance[A], `${ir.symbol} reference vs float64`);
    });
  }
}

for (const ir of irs.filter((k) => k.name === "siluMul" || k.name === "geluTanhMul")) {
  const A = dtypeOf(ir, 0);
  const def = ir.name === "siluMul" ? siluMul : geluTanhMul;
  const act = ir.name === "siluMul" ? silu : gelu;
  for (const T of [1, 5]) {
    test(`${ir.symbol} T=${T}: out = act(gate) * up, matching float64`, () => {
      const gateUp = randomGlobal(A, [T, 2 * I], 6);
      checkAgainstReference(def, ir, native(ir), [gateUp, new Global(A, [T, I]), I], tolerance[A], { emulate: T === 5 });
      const out = new Global(A, [T, I]);
      runReference(def, [gateUp, out, I]);
      const exact = new Global("f32", [T, I]);
      for (let t = 0; t < T; t++) for (let i = 0; i < I; i++) exact.put(t, i, act(gateUp.at(t, i)) * gateUp.at(t, i + I));
      assertClose(out, exact, tolerance[A], `${ir.symbol} reference vs float64`);
    });
  }
}

test.run();
