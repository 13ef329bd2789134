// Multi-LoRA shrink and expand (dsl/kernels/lora.ts): compiled C++ and the emulated CUDA lowering
// against the DSL reference, and the two launches together against a float64 x A^T B^T per token,
// for a batch mixing two adapters and tokens without one, on one slice and on three unequal slices
// (a fused qkv under grouped-query attention).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Global } from "../../dsl/global.ts";
import { loraExpand, loraShrink } from "../../dsl/kernels/lora.ts";
import { assertClose, buildKernels, checkAgainstReference, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const K = 72;
const R = 4;
const numSlots = 2;
const slots = Int32Array.of(0, -1, 1, 1, 0, -1, 0);
const T = slots.length;
const layouts = [
  { label: "one slice", N: 40, starts: [40, 40], NC: 8 },
  { label: "q, k, v slices", N: 48, starts: [32, 40], NC: 8 },
  { label: "gate, up slices in 16-column chunks", N: 64, starts: [32, 64], NC: 16 },
];
/** Activations A and tables L: an f32 model, a bf16 one, f32 activations over an f16 model's tables. */
const dtypes: { A: F; L: F }[] = [{ A: "f32", L: "f32" }, { A: "bf16", L: "bf16" }, { A: "f32", L: "f16" }];
const slicesOf = (N: number, starts: number[]) => 1 + starts.filter((s) => s < N).length;
const specs = dtypes.flatMap(({ A, L }) => layouts.flatMap(({ N, starts, NC }): KernelSpec[] => [
  { file: "dsl/kernels/lora.ts", exportName: "loraShrink", spec: { dtypes: { A, L }, consts: { K, J: slicesOf(N, starts) * R } } },
  { file: "dsl/kernels/lora.ts", exportName: "loraExpand", spec: { dtypes: { A, L }, consts: { R, S1: starts[0], S2: starts[1], NC } } },
]));
const { irs, native } = buildKernels("test_lora", specs);

dtypes.forEach(({ A, L }, d) => {
  layouts.forEach(({ label, N, starts, NC }, l) => {
    const shrinkIr = irs[2 * (d * layouts.length + l)];
    const expandIr = irs[2 * (d * layouts.length + l) + 1];
    const slices = slicesOf(N, starts);
    const J = slices * R;
    test(`LoRA ${A} over ${L} tables, ${label}: shrink and expand match their references and a float64 x A^T B^T`, () => {
      const x = randomGlobal(A, [T, K]);
      const a = randomGlobal(L, [numSlots, K, J]);
      const b = randomGlobal(L, [numSlots, R, N]);
      const slotIds = new Global("i32", [T], slots.slice());
      const u = new Global("f32", [T, J]);
      checkAgainstReference(loraShrink, shrinkIr, native(shrinkIr), [x, slotIds, a, u, K, J], tolerance.f32, { emulate: true });
      runReference(loraShrink, [x, slotIds, a, u, K, J]);
      const base = randomGlobal(A, [T, N]);
      checkAgainstReference(loraExpand, expandIr, native(expandIr), [u, slotIds, b, base, R, starts[0], starts[1], NC], tolerance[A], { emulate: true });
      const out = new Global(A, [T, N], base.data.slice());
      runReference(loraExpand, [u, slotIds, b, out, R, starts[0], starts[1], NC]);
      const expected = new Global(A, [T, N]);
      let changed = 0;
      for (let t = 0; t < T; t++) {
        for (let n = 0; n < N; n++) {
          const s = slots[t];
          const p = n >= starts[1] ? 2 : n >= starts[0] ? 1 : 0;
          let delta = 0;
          for (let r = 0; r < R && s >= 0; r++) {
            let dot = 0;
            for (let k = 0; k < K; k++) dot += x.at(t, k) * a.at(s, k, p * R + r);
            delta += dot * b.at(s, r, n);
          }
          if (s >= 0) changed++;
          expected.put(t, n, base.at(t, n) + delta);
        }
      }
      assert.ok(changed > 0);
      assertClose(out, expected, tolerance[A], `LoRA ${A} ${label} vs float64`);
      for (let t = 0; t < T; t++) {
        if (slots[t] >= 0) continue;
        for (let n = 0; n < N; n++) assert.is(out.at(t, n), base.at(t, n), `token ${t} has no adapter, so its output stays as it was`);
      }
    });
  });
});

test.run();
