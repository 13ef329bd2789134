// RoPE in place on [T, H, HD], NeoX (rotate_half) and GPT-J (interleaved) pairings, with frequencies
// from ropeInvFreq (llama3 and YaRN scaling, so mscale is exercised) and a partial-rotary case
// (rotary 32 of head dim 80, the rest untouched). Compiled and emulated kernels against the DSL
// reference; the reference against a float64 rotation of the original pairs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Global } from "../../dsl/global.ts";
import { ropeGptj, ropeNeox } from "../../dsl/kernels/rope.ts";
import { ropeInvFreq } from "../../models/common/rope.ts";
import type { ModelConfig, RopeScaling } from "../../runtime/loader/types.ts";
import { assertClose, buildKernels, checkAgainstReference, cloneArgs, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const cases: { A: F; HD: number; R2: number }[] = [{ A: "f32", HD: 128, R2: 64 }, { A: "f16", HD: 128, R2: 64 }, { A: "bf16", HD: 128, R2: 64 }, { A: "f32", HD: 80, R2: 16 }];
const specs: KernelSpec[] = cases.flatMap(({ A, R2 }) => ["ropeNeox", "ropeGptj"].map((exportName) => ({ file: "dsl/kernels/rope.ts", exportName, spec: { dtypes: { A }, consts: { R2 } } })));
const { irs, native } = buildKernels("test_rope", specs);

const scalings: RopeScaling[] = [
  { ropeType: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
  { ropeType: "yarn", factor: 4, originalMaxPositionEmbeddings: 4096, betaFast: 32, betaSlow: 1, attentionFactor: null, truncate: true },
];

function frequencies(scaling: RopeScaling, rotaryDim: number): { invFreq: Global; mscale: number } {
  const config = { ropeTheta: 500000, ropeScaling: scaling } as ModelConfig;
  const { invFreq, mscale } = ropeInvFreq(config, rotaryDim);
  return { invFreq: new Global("f32", [rotaryDim / 2], invFreq), mscale };
}

/** Rotates pair (a, b) by the f32 angle pos * invFreq in float64; dims past the rotary part stay. */
function float64Rope(x: Global, positions: Global, invFreq: Global, mscale: number, R2: number, neox: boolean): Global {
  const [T, H, HD] = x.shape;
  const out = new Global(x.dtype.name, [T, H, HD], x.data.slice());
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < R2; i++) {
        const angle = Math.fround(positions.at(t) * invFreq.at(i));
        const [ia, ib] = neox ? [i, i + R2] : [2 * i, 2 * i + 1];
        const [a, b] = [x.at(t, h, ia), x.at(t, h, ib)];
        out.put(t, h, ia, (a * Math.cos(angle) - b * Math.sin(angle)) * mscale);
        out.put(t, h, ib, (b * Math.cos(angle) + a * Math.sin(angle)) * mscale);
      }
  return out;
}

irs.forEach((ir, i) => {
  const { A, HD, R2 } = cases[Math.floor(i / 2)];
  const neox = ir.name === "ropeNeox";
  const def = neox ? ropeNeox : ropeGptj;
  for (const scaling of scalings) {
    test(`${ir.symbol} HD=${HD} ${scaling.ropeType}: matches its reference and a float64 rotation`, () => {
      const T = 6;
      const H = 3;
      const positions = new Global("i32", [T], Int32Array.from([0, 1, 15, 16, 1000, 8191]));
      const { invFreq, mscale } = frequencies(scaling, 2 * R2);
      if (scaling.ropeType === "yarn") assert.ok(mscale > 1);
      const x = randomGlobal(A, [T, H, HD], 2);
      const args = [x, positions, invFreq, mscale, R2];
      checkAgainstReference(def, ir, native(ir), args, tolerance[A], { emulate: A === "f32" && scaling.ropeType === "yarn" });
      const expected = cloneArgs(args);
      runReference(def, expected);
      assertClose(expected[0] as Global, float64Rope(x, positions, invFreq, mscale, R2, neox), tolerance[A], `${ir.symbol} reference vs float64`);
      if (HD > 2 * R2) for (let d = 2 * R2; d < HD; d++) assert.is((expected[0] as Global).at(T - 1, H - 1, d), x.at(T - 1, H - 1, d));
    });
  }
});

test.run();
