// The mixture-of-experts kernels (dsl/kernels/moe.ts): each one's compiled C++ and emulated CUDA
// lowering against its DSL reference (the shared expert's sum also against float64), the four together against a float64 MoE MLP per token, and a
// token's output the same in a batch of 100 (two gather blocks) as in a batch of 24 of them (bit for bit)
// and alone (up to summation order: alone it takes the one-row path). Each runs as Mixtral's experts
// (SiLU, no biases) and as GPT-OSS's (biases on gate, up and down; SwiGLU clamped at limit).
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Float } from "../../dsl/dtype.ts";
import { Global } from "../../dsl/global.ts";
import { packWeightPanels } from "../../dsl/kernels/matmul-blocked.ts";
import { moeDown, moeGateUp, moeRoute, moeSum, moeSumShared } from "../../dsl/kernels/moe.ts";
import { launch } from "../../codegen/build/launch.ts";
import { assertClose, buildKernels, checkAgainstReference, randomGlobal, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

const [E, KE, H, I] = [4, 2, 64, 96];
const dtypes: { A: Float; W: Float }[] = [{ A: "f32", W: "f32" }, { A: "f32", W: "f16" }, { A: "bf16", W: "bf16" }];
const file = "dsl/kernels/moe.ts";
/** Mixtral's experts, and GPT-OSS's (alpha 1.702 and limit 7 as its config; limit 1.5 here so the clamps bite). */
const experts = [{ name: "silu", ACT: 0, BIAS: 0 }, { name: "gpt-oss", ACT: 1, BIAS: 1 }] as const;
const [alpha, limit] = [1.702, 1.5];
const specs = dtypes.flatMap(({ A, W }): KernelSpec[] => [
  { file, exportName: "moeRoute", spec: { dtypes: { A }, consts: { KE, RENORM: 1 } } },
  { file, exportName: "moeRoute", spec: { dtypes: { A }, consts: { KE, RENORM: 0 } } },
  { file, exportName: "moeSum", spec: { dtypes: { A }, consts: { KE } } },
  { file, exportName: "moeSumShared", spec: { dtypes: { A }, consts: { KE } } },
  ...experts.flatMap(({ ACT, BIAS }): KernelSpec[] => [
    { file, exportName: "moeGateUp", spec: { dtypes: { A, W }, consts: { K: H, I, ACT, BIAS } } },
    { file, exportName: "moeDown", spec: { dtypes: { A, W }, consts: { I, N: H, BIAS } } },
  ]),
]);
const perDType = 4 + 2 * experts.length;
const { irs, native } = buildKernels("test_moe", specs);

/** Panels of expert matrices stacked [E * rows, columns]. */
const panels = (w: Global, rows: number, columns: number) => new Global(w.dtype.name, [Math.ceil(rows / 16), columns, 16], packWeightPanels(w.data as Float32Array, rows, columns));

dtypes.forEach(({ A, W }, d) => experts.forEach(({ name, ACT, BIAS }, v) => {
  const [routeRenorm, routeSoftmax, sumIr, sumSharedIr] = irs.slice(perDType * d, perDType * d + 4);
  const [gateUpIr, downIr] = irs.slice(perDType * d + 4 + 2 * v, perDType * d + 6 + 2 * v);
  const weights = () => {
    const gate = randomGlobal(W, [E * I, H], 0.3);
    const up = randomGlobal(W, [E * I, H], 0.3);
    const down = randomGlobal(W, [E * H, I], 0.3);
    const biases = { gate: randomGlobal(W, [E * I], 0.5), up: randomGlobal(W, [E * I], 0.5), down: randomGlobal(W, [E * H], 0.5) };
    return { gate, up, down, biases, packed: { gate: panels(gate, E * I, H), up: panels(up, E * I, H), down: panels(down, E * H, I) } };
  };
  const gateUpArgs = (x: Global, ids: Global, w: ReturnType<typeof weights>, h: Global) => [x, ids, w.packed.gate, w.packed.up, h, w.biases.gate, w.biases.up, alpha, limit, H, I, ACT, BIAS];
  const downArgs = (h: Global, ids: Global, routed: Global, w: ReturnType<typeof weights>, y: Global) => [h, ids, routed, w.packed.down, y, w.biases.down, I, H, BIAS];
  /** The expert's hidden unit from its gate and up products, in float64. */
  const activation = (g: number, u: number) => {
    if (ACT === 0) return (g / (1 + Math.exp(-g))) * u;
    const clamped = Math.min(g, limit);
    return (clamped / (1 + Math.exp(-alpha * clamped))) * (Math.max(-limit, Math.min(u, limit)) + 1);
  };

  /** The four launches, compiled, over x [T, H] and router logits [T, E]. */
  const forward = (x: Global, logits: Global, w: ReturnType<typeof weights>) => {
    const T = x.shape[0];
    const ids = new Global("i32", [T, KE]);
    const routed = new Global("f32", [T, KE]);
    const h = new Global(A, [T * KE, I]);
    const y = new Global("f32", [T * KE, H]);
    const out = new Global(A, [T, H]);
    launch(native(routeRenorm), routeRenorm, [logits, ids, routed, KE, 1]);
    launch(native(gateUpIr), gateUpIr, gateUpArgs(x, ids, w, h));
    launch(native(downIr), downIr, downArgs(h, ids, routed, w, y));
    launch(native(sumIr), sumIr, [y, out, KE]);
    return { ids, routed, out };
  };

  test(`MoE ${A} over ${W} ${name} experts: each kernel matches its reference, compiled and emulated`, () => {
    const T = 7;
    const w = weights();
    const logits = randomGlobal(A, [T, E], 2);
    const x = randomGlobal(A, [T, H]);
    const ids = new Global("i32", [T, KE]);
    const routed = new Global("f32", [T, KE]);
    checkAgainstReference(moeRoute, routeRenorm, native(routeRenorm), [logits, ids, routed, KE, 1], tolerance.f32, { emulate: true });
    checkAgainstReference(moeRoute, routeSoftmax, native(routeSoftmax), [logits, ids, routed, KE, 0], tolerance.f32, { emulate: true });
    launch(native(routeSoftmax), routeSoftmax, [logits, ids, routed, KE, 0]);
    for (let t = 0; t < T; t++) {
      const all = Array.from({ length: E }, (_, e) => Math.exp(logits.at(t, e)));
      const total = all.reduce((a, b) => a + b, 0);
      for (let r = 0; r < KE; r++) assert.ok(Math.abs(routed.at(t, r) - all[ids.at(t, r)] / total) < 1e-6, `without renormalizing, token ${t} rank ${r} weighs its softmax probability`);
    }
    const { ids: chosen, routed: weightsOf } = forward(x, logits, w);
    const h = randomGlobal(A, [T * KE, I]);
    checkAgainstReference(moeGateUp, gateUpIr, native(gateUpIr), gateUpArgs(x, chosen, w, new Global(A, [T * KE, I])), tolerance[A], { emulate: true });
    checkAgainstReference(moeDown, downIr, native(downIr), downArgs(h, chosen, weightsOf, w, new Global("f32", [T * KE, H])), tolerance.f32, { emulate: true });
    const y = randomGlobal("f32", [T * KE, H]);
    checkAgainstReference(moeSum, sumIr, native(sumIr), [y, new Global(A, [T, H]), KE], tolerance[A], { emulate: true });
    const [shared, g] = [randomGlobal(A, [T, H]), randomGlobal(A, [T, 1], 3)];
    checkAgainstReference(moeSumShared, sumSharedIr, native(sumSharedIr), [y, shared, g, new Global(A, [T, H]), KE], tolerance[A], { emulate: true });
    const withShared = new Global(A, [T, H]);
    launch(native(sumSharedIr), sumSharedIr, [y, shared, g, withShared, KE]);
    const expectedShared = new Global(A, [T, H]);
    for (let t = 0; t < T; t++) for (let n = 0; n < H; n++) expectedShared.put(t, n, y.at(t * KE, n) + y.at(t * KE + 1, n) + shared.at(t, n) / (1 + Math.exp(-g.at(t, 0))));
    assertClose(withShared, expectedShared, tolerance[A], "the shared expert gated by sigmoid(g), added to the routed sum");
  });

  test(`MoE ${A} over ${W} ${name} experts: the launches give a float64 MoE MLP, and a token's output does not depend on its batch`, () => {
    const T = 100;
    const w = weights();
    const logits = randomGlobal(A, [T, E], 2);
    const x = randomGlobal(A, [T, H]);
    const { ids, routed, out } = forward(x, logits, w);
    const expected = new Global(A, [T, H]);
    const used = new Set<number>();
    for (let t = 0; t < T; t++) {
      const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => logits.at(t, b) - logits.at(t, a) || a - b);
      const top = order.slice(0, KE);
      const exps = top.map((e) => Math.exp(logits.at(t, e)));
      const sum = exps.reduce((a, b) => a + b, 0);
      top.forEach((e, r) => {
        used.add(e);
        assert.is(ids.at(t, r), e, `token ${t} rank ${r}`);
        assert.ok(Math.abs(routed.at(t, r) - exps[r] / sum) < 1e-6, `token ${t} rank ${r} weight`);
      });
      const acc = new Float64Array(H);
      top.forEach((e, r) => {
        const hidden = Array.from({ length: I }, (_, i) => {
          let g = BIAS ? w.biases.gate.at(e * I + i) : 0;
          let u = BIAS ? w.biases.up.at(e * I + i) : 0;
          for (let k = 0; k < H; k++) {
            g += x.at(t, k) * w.gate.at(e * I + i, k);
            u += x.at(t, k) * w.up.at(e * I + i, k);
          }
          return activation(g, u);
        });
        for (let n = 0; n < H; n++) {
          let dot = BIAS ? w.biases.down.at(e * H + n) : 0;
          for (let i = 0; i < I; i++) dot += hidden[i] * w.down.at(e * H + n, i);
          acc[n] += (exps[r] / sum) * dot;
        }
      });
      for (let n = 0; n < H; n++) expected.put(t, n, acc[n]);
    }
    assert.is(used.size, E, "every expert is chosen by some token");
    assertClose(out, expected, A === "f32" ? { abs: 2e-4, rel: 1e-3 } : { abs: 0.15, rel: 0.05 }, `MoE ${A}/${W} vs float64`);
    // Alone, each of the token's experts has one row (the one-row tile): equal up to f32 summation order.
    for (const t of [0, 57, 99]) {
      const alone = forward(new Global(A, [1, H], x.data.slice(t * H, (t + 1) * H)), new Global(A, [1, E], logits.data.slice(t * E, (t + 1) * E)), w);
      assertClose(alone.out, new Global(A, [1, H], out.data.slice(t * H, (t + 1) * H)), A === "f32" ? { abs: 1e-6, rel: 1e-5 } : tolerance[A], `token ${t} alone`);
    }
    // In a batch whose experts all have several rows, a token's output is the 100-token batch's bit
    // for bit (tokens of its first gather block, where every expert has many).
    const few = Array.from({ length: 24 }, (_, i) => 4 * i + 1);
    const subset = forward(new Global(A, [few.length, H], Float32Array.from(few.flatMap((t) => Array.from(x.data.subarray(t * H, (t + 1) * H))))), new Global(A, [few.length, E], Float32Array.from(few.flatMap((t) => Array.from(logits.data.subarray(t * E, (t + 1) * E))))), w);
    const perExpert = new Map<number, number>();
    for (let i = 0; i < few.length; i++) for (let r = 0; r < KE; r++) perExpert.set(subset.ids.at(i, r), (perExpert.get(subset.ids.at(i, r)) ?? 0) + 1);
    assert.ok([...perExpert.values()].every((n) => n > 1), "every expert the subset uses has several rows");
    few.forEach((t, i) => assert.equal(Array.from(subset.out.data.subarray(i * H, (i + 1) * H)), Array.from(out.data.subarray(t * H, (t + 1) * H)), `token ${t} among ${few.length}`));
  });
}));

test.run();
