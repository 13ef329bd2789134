// The logits kernels: softmax, soft-capping and row gather (elementwise.ts), argmax and top-k on
// f32/f16/bf16 rows: compiled and emulated kernels against the DSL reference, and the reference
// against float64 formulas and a sort. Rows include ties (the first index wins) and -Infinity
// entries (masked logits).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Global } from "../../dsl/global.ts";
import { argmax, topK } from "../../dsl/kernels/sampling.ts";
import { gatherRows, softcap } from "../../dsl/kernels/elementwise.ts";
import { softmax } from "../../dsl/kernels/softmax.ts";
import { assertClose, buildKernels, checkAgainstReference, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const floats: F[] = ["f32", "f16", "bf16"];
const file = (name: string) => `dsl/kernels/${name}.ts`;
const specs: KernelSpec[] = [
  ...floats.flatMap((A): KernelSpec[] => [
    { file: file("softmax"), exportName: "softmax", spec: { dtypes: { A, O: A }, consts: {} } },
    { file: file("elementwise"), exportName: "softcap", spec: { dtypes: { A }, consts: { N: 33 } } },
    { file: file("elementwise"), exportName: "gatherRows", spec: { dtypes: { A }, consts: { N: 300 } } },
    { file: file("sampling"), exportName: "argmax", spec: { dtypes: { A }, consts: {} } },
  ]),
  { file: file("sampling"), exportName: "topK", spec: { dtypes: { A: "f32" }, consts: { K: 5 } } },
  { file: file("sampling"), exportName: "topK", spec: { dtypes: { A: "bf16" }, consts: { K: 3 } } },
];
const { irs, native } = buildKernels("test_softmax_sampling", specs);
const dtypeOf = (ir: (typeof irs)[number]) => (ir.params[0].kind === "global" ? ir.params[0].dtype : "f32") as F;
const rowLengths = [1, 33, 300];

/** Random logits with a repeated maximum (ties) and a few masked entries. */
function logits(A: F, T: number, V: number): Global {
  const g = randomGlobal(A, [T, V], 8);
  for (let t = 0; t < T; t++) {
    if (V > 4) {
      g.put(t, (t * 7 + 3) % V, 9);
      g.put(t, (t * 7 + 5) % V, 9);
      g.put(t, (t * 11 + 1) % V, -Infinity);
    }
  }
  return g;
}

for (const ir of irs) {
  const A = dtypeOf(ir);
  for (const V of rowLengths) {
    const T = 3;
    const emulate = V === 33;
    if (ir.name === "softmax") {
      test(`${ir.symbol} V=${V}: rows sum to 1 and match float64 softmax(x * scale)`, () => {
        const x = logits(A, T, V);
        const scale = 0.7;
        checkAgainstReference(softmax, ir, native(ir), [x, new Global(A, [T, V]), scale], tolerance[A], { emulate });
        const out = new Global(A, [T, V]);
        runReference(softmax, [x, out, scale]);
        const exact = new Global("f32", [T, V]);
        for (let t = 0; t < T; t++) {
          const row = Array.from({ length: V }, (_, i) => x.at(t, i) * scale);
          const m = Math.max(...row);
          const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
          row.forEach((v, i) => exact.put(t, i, Math.exp(v - m) / z));
        }
        assertClose(out, exact, tolerance[A], `${ir.symbol} reference vs float64`);
      });
    } else if (ir.name === "softcap") {
      if (V !== ir.consts.N) continue;
      test(`${ir.symbol}: cap * tanh(x / cap)`, () => {
        const x = logits(A, T, V);
        checkAgainstReference(softcap, ir, native(ir), [x, new Global(A, [T, V]), 5, V], tolerance[A], { emulate: true });
        const capped = new Global(A, [T, V]);
        runReference(softcap, [x, capped, 5, V]);
        for (let t = 0; t < T; t++) for (let i = 0; i < V; i++) assert.ok(Math.abs(capped.at(t, i) - 5 * Math.tanh(x.at(t, i) / 5)) <= tolerance[A].abs + tolerance[A].rel * 5);
      });
    } else if (ir.name === "gatherRows") {
      if (V !== ir.consts.N) continue;
      test(`${ir.symbol}: copies the indexed rows, repeats allowed`, () => {
        const x = randomGlobal(A, [5, V]);
        const index = new Global("i32", [4], Int32Array.from([4, 0, 4, 2]));
        checkAgainstReference(gatherRows, ir, native(ir), [index, x, new Global(A, [4, V]), V], tolerance[A], { emulate: true });
        const out = new Global(A, [4, V]);
        runReference(gatherRows, [index, x, out, V]);
        for (let r = 0; r < 4; r++) for (let d = 0; d < V; d++) assert.is(out.at(r, d), x.at(index.at(r), d));
      });
    } else if (ir.name === "argmax") {
      test(`${ir.symbol} V=${V}: the first index of each row's maximum`, () => {
        const x = logits(A, T, V);
        checkAgainstReference(argmax, ir, native(ir), [x, new Global("i32", [T])], { abs: 0, rel: 0 }, { emulate });
        const out = new Global("i32", [T]);
        runReference(argmax, [x, out]);
        for (let t = 0; t < T; t++) {
          const row = Array.from({ length: V }, (_, i) => x.at(t, i));
          assert.is(out.at(t), row.indexOf(Math.max(...row)));
        }
      });
    } else {
      const K = ir.consts.K;
      if (V < K) continue;
      test(`${ir.symbol} V=${V}: the K largest values in order, ties by lower index`, () => {
        const x = logits(A, T, V);
        checkAgainstReference(topK, ir, native(ir), [x, new Global("f32", [T, K]), new Global("i32", [T, K]), K], { abs: 0, rel: 0 }, { emulate });
        const values = new Global("f32", [T, K]);
        const indices = new Global("i32", [T, K]);
        runReference(topK, [x, values, indices, K]);
        for (let t = 0; t < T; t++) {
          const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => x.at(t, b) - x.at(t, a) || a - b);
          for (let r = 0; r < K; r++) {
            assert.is(indices.at(t, r), order[r], `row ${t} rank ${r}`);
            assert.is(values.at(t, r), x.at(t, order[r]));
          }
        }
      });
    }
  }
}

test.run();
