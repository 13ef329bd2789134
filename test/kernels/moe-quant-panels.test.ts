// The MoE experts over quantized panels (dsl/kernels/moe-quant-panels.ts): each compiled kernel
// against its DSL reference (and, on the smallest batch, the emulated CUDA lowering), and the four
// launches against moe.ts's float kernels (themselves held to a float64 MoE by moe.test.ts) run on
// f32 panels of the weights the quantized panels stand for (scale * q - min, read from them by
// hand here). 8-bit in groups of 32 without offsets and of 16 with them, 4-bit in groups of 32; SiLU
// experts and GPT-OSS's (biases, clamped SwiGLU); a decode token alone (the one-row tile), 7 tokens
// and 100 (6-row tiles, two gather blocks).
import { test } from "uvu";
import { launch } from "../../codegen/build/launch.ts";
import { Global } from "../../dsl/global.ts";
import { packWeightPanels } from "../../dsl/kernels/matmul-blocked.ts";
import { moeDown, moeGateUp, moeRoute, moeSum } from "../../dsl/kernels/moe.ts";
import { moeDownQ4Panels, moeDownQ8Panels, moeGateUpQ4Panels, moeGateUpQ8Panels } from "../../dsl/kernels/moe-quant-panels.ts";
import { assertClose, buildKernels, checkAgainstReference, randomGlobal, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

const [E, KE, H, I] = [4, 2, 64, 96];
const [alpha, limit] = [1.702, 1.5];
const file = "dsl/kernels/moe-quant-panels.ts";
const formats = [{ bits: 8, G: 32, hasMin: false }, { bits: 8, G: 16, hasMin: true }, { bits: 4, G: 32, hasMin: true }] as const;
const experts = [{ name: "silu", ACT: 0, BIAS: 0 }, { name: "gpt-oss", ACT: 1, BIAS: 1 }] as const;
const cases = formats.flatMap((format) => experts.map((expert) => ({ ...format, ...expert })));
const consts = (c: (typeof cases)[number], K: number): Record<string, number> => (c.bits === 8 ? { G: c.G, MG: c.hasMin ? c.G : K } : {});
const specs: KernelSpec[] = [
  { file: "dsl/kernels/moe.ts", exportName: "moeRoute", spec: { dtypes: { A: "f32" }, consts: { KE, RENORM: 1 } } },
  { file: "dsl/kernels/moe.ts", exportName: "moeSum", spec: { dtypes: { A: "f32" }, consts: { KE } } },
  ...experts.flatMap(({ ACT, BIAS }): KernelSpec[] => [
    { file: "dsl/kernels/moe.ts", exportName: "moeGateUp", spec: { dtypes: { A: "f32", W: "f32" }, consts: { K: H, I, ACT, BIAS } } },
    { file: "dsl/kernels/moe.ts", exportName: "moeDown", spec: { dtypes: { A: "f32", W: "f32" }, consts: { I, N: H, BIAS } } },
  ]),
  ...cases.flatMap((c): KernelSpec[] => [
    { file, exportName: c.bits === 8 ? "moeGateUpQ8Panels" : "moeGateUpQ4Panels", spec: { dtypes: { A: "f32", W: "f32" }, consts: { K: H, I, ...consts(c, H), ACT: c.ACT, BIAS: c.BIAS } } },
    { file, exportName: c.bits === 8 ? "moeDownQ8Panels" : "moeDownQ4Panels", spec: { dtypes: { A: "f32", W: "f32" }, consts: { I, N: H, ...consts(c, I), BIAS: c.BIAS } } },
  ]),
];
const { irs, native } = buildKernels("test_moe_quant_panels", specs);
const [routeIr, sumIr] = irs;

let seed = 777;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);

/** A stack of rows x K expert weights as quantized panels and the f32 values they stand for. */
function quantized(c: (typeof cases)[number], rows: number, K: number) {
  const P = rows / 16;
  const groups = K / c.G;
  const values = c.bits === 8 ? new Global("i8", [P, K, 16], Int32Array.from({ length: P * K * 16 }, () => Math.floor(random() * 256) - 128)) : new Global("u8", [P, K / 2, 16], Int32Array.from({ length: (P * K * 16) / 2 }, () => Math.floor(random() * 256)));
  const scales = new Global("f32", [P, groups, 16], Float32Array.from({ length: P * groups * 16 }, () => Math.fround((c.bits === 8 ? 0.002 : 0.03) * (random() + 0.2))));
  const minGroups = c.hasMin ? groups : 1;
  const mins = new Global("f32", [P, minGroups, 16], Float32Array.from({ length: P * minGroups * 16 }, () => (c.hasMin ? Math.fround(0.1 * (random() - 0.5)) : 0)));
  const weights = new Float32Array(rows * K);
  for (let n = 0; n < rows; n++) {
    for (let k = 0; k < K; k++) {
      const [p, j] = [Math.floor(n / 16), n % 16];
      const q = c.bits === 8 ? values.at(p, k, j) : (values.at(p, k >> 1, j) >> (4 * (k % 2))) & 15;
      weights[n * K + k] = Math.fround(q * scales.at(p, Math.floor(k / c.G), j) - mins.at(p, c.hasMin ? Math.floor(k / c.G) : 0, j));
    }
  }
  return { parts: [values, scales, mins], panels: new Global("f32", [P, K, 16], packWeightPanels(weights, rows, K)) };
}

cases.forEach((c, n) => {
  const [floatGateUp, floatDown] = irs.slice(2 + 2 * (c.ACT === 0 ? 0 : 1), 4 + 2 * (c.ACT === 0 ? 0 : 1));
  const [gateUpIr, downIr] = irs.slice(6 + 2 * n, 8 + 2 * n);
  const [gateUpRef, downRef] = c.bits === 8 ? [moeGateUpQ8Panels, moeDownQ8Panels] : [moeGateUpQ4Panels, moeDownQ4Panels];
  const label = `${c.bits}-bit, groups of ${c.G}${c.hasMin ? " with offsets" : ""}, ${c.name} experts`;
  const [gate, up, down] = [quantized(c, E * I, H), quantized(c, E * I, H), quantized(c, E * H, I)];
  const biases = [randomGlobal("f32", [E * I], 0.5), randomGlobal("f32", [E * I], 0.5), randomGlobal("f32", [E * H], 0.5)];
  const c8 = (K: number) => Object.values(consts(c, K));
  const gateUpArgs = (x: Global, ids: Global, h: Global) => [x, ids, ...gate.parts, ...up.parts, h, biases[0], biases[1], alpha, limit, H, I, ...c8(H), c.ACT, c.BIAS];
  const downArgs = (h: Global, ids: Global, routed: Global, y: Global) => [h, ids, routed, ...down.parts, y, biases[2], I, H, ...c8(I), c.BIAS];

  for (const T of [1, 7, 100]) {
    test(`MoE over ${label}, ${T} tokens: each kernel matches its reference, and the launches the float kernels on the weights the panels hold`, () => {
      const x = randomGlobal("f32", [T, H]);
      const logits = randomGlobal("f32", [T, E], 2);
      const ids = new Global("i32", [T, KE]);
      const routed = new Global("f32", [T, KE]);
      launch(native(routeIr), routeIr, [logits, ids, routed, KE, 1]);
      const emulate = T === 1;
      checkAgainstReference(gateUpRef, gateUpIr, native(gateUpIr), gateUpArgs(x, ids, new Global("f32", [T * KE, I])), tolerance.f32, { emulate });
      checkAgainstReference(downRef, downIr, native(downIr), downArgs(randomGlobal("f32", [T * KE, I]), ids, routed, new Global("f32", [T * KE, H])), tolerance.f32, { emulate });

      const run = (gateUp: () => Global, downLaunch: (h: Global, y: Global) => void) => {
        const h = gateUp();
        const y = new Global("f32", [T * KE, H]);
        downLaunch(h, y);
        const out = new Global("f32", [T, H]);
        launch(native(sumIr), sumIr, [y, out, KE]);
        return out;
      };
      const ours = run(
        () => {
          const h = new Global("f32", [T * KE, I]);
          launch(native(gateUpIr), gateUpIr, gateUpArgs(x, ids, h));
          return h;
        },
        (h, y) => launch(native(downIr), downIr, downArgs(h, ids, routed, y)),
      );
      const expected = run(
        () => {
          const h = new Global("f32", [T * KE, I]);
          launch(native(floatGateUp), floatGateUp, [x, ids, gate.panels, up.panels, h, biases[0], biases[1], alpha, limit, H, I, c.ACT, c.BIAS]);
          return h;
        },
        (h, y) => launch(native(floatDown), floatDown, [h, ids, routed, down.panels, y, biases[2], I, H, c.BIAS]),
      );
      assertClose(ours, expected, { abs: 1e-5, rel: 1e-4 }, `${label} vs the float kernels`);
    });
  }
});

test.run();
