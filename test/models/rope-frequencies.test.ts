// ropeInvFreq against the rope_scaling formulas evaluated here in float64, written per element from
// the papers' definitions (wavelengths, rotations over the original context), plus the dim ranges
// worked out by hand for Llama-3.1-8B (llama3) and Qwen2.5 (YaRN) configs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ropeInvFreq } from "../../models/common/rope.ts";
import type { ModelConfig, RopeScaling } from "../../runtime/loader/types.ts";

function config(ropeTheta: number, ropeScaling: RopeScaling | null): ModelConfig {
  return {
    architecture: "LlamaForCausalLM", modelType: "llama", hiddenSize: 4096, intermediateSize: 14336, numHiddenLayers: 2,
    numAttentionHeads: 32, numKeyValueHeads: 8, headDim: 128, vocabSize: 1000, maxPositionEmbeddings: 131072, rmsNormEps: 1e-5,
    ropeTheta, ropeScaling, partialRotaryFactor: 1, tieWordEmbeddings: false, hiddenAct: "silu", attentionBias: false,
    slidingWindow: null, finalLogitSoftcapping: null, attnLogitSoftcapping: null, queryPreAttnScalar: null, bosTokenId: null,
    eosTokenIds: [], torchDtype: "bfloat16",
  };
}

/** theta^(-2i/dim) as exp(-(2i/dim) ln theta). */
const plain = (theta: number, dim: number, i: number) => Math.exp((-2 * i * Math.log(theta)) / dim);

function assertF32(actual: Float32Array, expected: (i: number) => number, what: string): void {
  for (let i = 0; i < actual.length; i++) {
    const e = Math.fround(expected(i));
    assert.ok(Math.abs(actual[i] - e) <= 2 * Math.abs(e) * 2 ** -24, `${what}[${i}] = ${actual[i]}, expected ${e}`);
  }
}

test("no scaling: theta^(-2i/d) with mscale 1, for full and partial rotary dims", () => {
  for (const dim of [128, 64, 32]) {
    const { invFreq, mscale } = ropeInvFreq(config(10000, null), dim);
    assert.is(invFreq.length, dim / 2);
    assert.is(invFreq[0], 1);
    assert.is(mscale, 1);
    assertF32(invFreq, (i) => plain(10000, dim, i), `default d=${dim}`);
  }
});

test("linear: every frequency divided by the factor (position p rotates as p / factor did)", () => {
  const { invFreq } = ropeInvFreq(config(10000, { ropeType: "linear", factor: 4 }), 128);
  assertF32(invFreq, (i) => plain(10000, 128, i) / 4, "linear");
});

test("dynamic NTK: unscaled within the original context, a larger base beyond it", () => {
  const scaling: RopeScaling = { ropeType: "dynamic", factor: 2, originalMaxPositionEmbeddings: 4096 };
  assertF32(ropeInvFreq(config(10000, scaling), 128, 4096).invFreq, (i) => plain(10000, 128, i), "dynamic at Lo");
  assertF32(ropeInvFreq(config(10000, scaling), 128).invFreq, (i) => plain(10000, 128, i), "dynamic default length");
  // L = 2 Lo: the base grows by (2 * 2 - 1)^(128 / 126) = 3^(64/63).
  const grown = 10000 * Math.exp((64 / 63) * Math.log(3));
  assertF32(ropeInvFreq(config(10000, scaling), 128, 8192).invFreq, (i) => plain(grown, 128, i), "dynamic at 2 Lo");
});

test("llama3 (Llama-3.1-8B): dims 0-28 kept, 35-63 divided by 8, 29-34 blended by wavelength", () => {
  const scaling: RopeScaling = { ropeType: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 };
  const { invFreq, mscale } = ropeInvFreq(config(500000, scaling), 128);
  assert.is(mscale, 1);
  const expected = (i: number) => {
    const f = plain(500000, 128, i);
    if (i <= 28) return f;
    if (i >= 35) return f / 8;
    const turnsInContext = (8192 * f) / (2 * Math.PI);
    const s = (turnsInContext - 1) / 3;
    return f * (s + (1 - s) / 8);
  };
  assertF32(invFreq, expected, "llama3");
  for (let i = 29; i <= 34; i++) assert.ok(invFreq[i] < plain(500000, 128, i) && invFreq[i] > plain(500000, 128, i) / 8, `dim ${i} is blended`);
});

test("YaRN (Qwen2.5, factor 4 over 32k): extrapolate dims < 23, interpolate dims >= 40, ramp between; mscale 0.1 ln 4 + 1", () => {
  const scaling: RopeScaling = { ropeType: "yarn", factor: 4, originalMaxPositionEmbeddings: 32768, betaFast: 32, betaSlow: 1, attentionFactor: null, truncate: true };
  const { invFreq, mscale } = ropeInvFreq(config(1e6, scaling), 128);
  assert.ok(Math.abs(mscale - 1.1386294361119891) < 1e-12, `mscale ${mscale}`);
  // Fractional dim where a frequency turns `r` times over 32768 positions: 64 * log_theta(32768 / (2 pi r)).
  const dimAt = (r: number) => 64 * (Math.log(32768 / (2 * Math.PI * r)) / Math.log(1e6));
  assert.is(Math.floor(dimAt(32)), 23);
  assert.is(Math.ceil(dimAt(1)), 40);
  const expected = (i: number) => {
    const f = plain(1e6, 128, i);
    const ramp = Math.min(1, Math.max(0, (i - 23) / 17));
    return (1 - ramp) * f + ramp * (f / 4);
  };
  assertF32(invFreq, expected, "yarn");
  assert.is(invFreq[10], Math.fround(plain(1e6, 128, 10)));
  assert.is(invFreq[50], Math.fround(plain(1e6, 128, 50) / 4));
});

test("YaRN without truncation (GPT-OSS: factor 32 over 4096, theta 150000, head 64): the ramp runs between the fractional correction dims", () => {
  const scaling: RopeScaling = { ropeType: "yarn", factor: 32, originalMaxPositionEmbeddings: 4096, betaFast: 32, betaSlow: 1, attentionFactor: null, truncate: false };
  const { invFreq, mscale } = ropeInvFreq(config(150000, scaling), 64);
  assert.ok(Math.abs(mscale - (0.1 * Math.log(32) + 1)) < 1e-12, `mscale ${mscale}`);
  const dimAt = (r: number) => 32 * (Math.log(4096 / (2 * Math.PI * r)) / Math.log(150000));
  const [low, high] = [dimAt(32), dimAt(1)];
  assert.ok(!Number.isInteger(low) && !Number.isInteger(high), "the correction dims are fractional here");
  const expected = (i: number) => {
    const f = plain(150000, 64, i);
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    return (1 - ramp) * f + ramp * (f / 32);
  };
  assertF32(invFreq, expected, "yarn, not truncated");
  const truncated = ropeInvFreq(config(150000, { ...scaling, truncate: true }), 64).invFreq;
  assert.ok(truncated.some((f, i) => f !== invFreq[i]), "truncating the range changes the blended dims");
});

test("YaRN keeps an explicit attention_factor", () => {
  const scaling: RopeScaling = { ropeType: "yarn", factor: 4, originalMaxPositionEmbeddings: 4096, betaFast: 32, betaSlow: 1, attentionFactor: 1.25, truncate: true };
  assert.is(ropeInvFreq(config(10000, scaling), 64).mscale, 1.25);
});

test("longrope: each frequency divided by its factor, the long ones only when max_model_len exceeds the original context; mscale the attention factor", () => {
  const shortFactor = Array.from({ length: 48 }, (_, i) => 1 + 0.01 * i);
  const longFactor = Array.from({ length: 48 }, (_, i) => 1 + 0.5 * i);
  const scaling: RopeScaling = { ropeType: "longrope", shortFactor, longFactor, originalMaxPositionEmbeddings: 4096, attentionFactor: 1.19 };
  const c = { ...config(10000, scaling), partialRotaryFactor: 0.75 };
  const short = ropeInvFreq(c, 96, undefined, 4096);
  assertF32(short.invFreq, (i) => plain(10000, 96, i) / shortFactor[i], "short factors at max_model_len 4096");
  assert.is(short.mscale, 1.19);
  assertF32(ropeInvFreq(c, 96, undefined, 4097).invFreq, (i) => plain(10000, 96, i) / longFactor[i], "long factors at 4097");
  assertF32(ropeInvFreq(c, 96).invFreq, (i) => plain(10000, 96, i) / longFactor[i], "long factors at max_position_embeddings 131072");
});

test.run();
