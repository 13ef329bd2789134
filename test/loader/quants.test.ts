// Dequantization of hand-built GGML blocks, each expected value worked out from the block layout
// (ggml-common.h), and the scalar dtype conversions.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bf16ToF32, f16ToF32 } from "../../runtime/loader/convert.ts";
import { quantizeRows } from "../../models/random/gguf-quantize.ts";
import { dequantizeIQ4_NL, dequantizeIQ4_XS, dequantizeMXFP4, dequantizeQ2_K, dequantizeQ3_K, dequantizeQ4_0, dequantizeQ4_1, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K, dequantizeQ8_0, q3KScale } from "../../runtime/loader/gguf-quants.ts";

// f16 bit patterns: 0.25, 0.5, 1, 2.
const half = { quarter: 0x3400, half: 0x3800, one: 0x3c00, two: 0x4000 };

function setHalf(block: Uint8Array, at: number, bits: number): void {
  block[at] = bits & 0xff;
  block[at + 1] = bits >> 8;
}

test("f16 and bf16 widen exactly", () => {
  assert.equal(Array.from(f16ToF32(Uint16Array.of(0x3c00, 0xc000, 0x7c00, 0x0001, 0x7bff, 0x8000))), [1, -2, Infinity, 2 ** -24, 65504, -0]);
  assert.ok(Number.isNaN(f16ToF32(Uint16Array.of(0x7e00))[0]));
  assert.equal(Array.from(bf16ToF32(Uint16Array.of(0x3f80, 0xc040, 0x4049))), [1, -3, 3.140625]);
});

test("Q8_0: value = d * int8", () => {
  const block = new Uint8Array(34);
  setHalf(block, 0, half.half);
  const int8 = new Int8Array(block.buffer, 2, 32);
  int8.set([-128, -1, 0, 1, 127]);
  const values = dequantizeQ8_0(block);
  assert.is(values.length, 32);
  assert.equal(Array.from(values.subarray(0, 6)), [-64, -0.5, 0, 0.5, 63.5, 0]);
});

test("Q4_0: low nibbles are values 0-15, high nibbles 16-31, both offset by 8", () => {
  const block = new Uint8Array(18);
  setHalf(block, 0, half.two);
  block[2] = 0x1f;
  block[3] = 0x80;
  const values = dequantizeQ4_0(block);
  assert.is(values[0], (0xf - 8) * 2);
  assert.is(values[16], (0x1 - 8) * 2);
  assert.is(values[1], (0 - 8) * 2);
  assert.is(values[17], 0);
  assert.is(values[2], -16);
});

test("Q4_K: 6-bit scales/mins, including the high bits of sub-blocks 4-7", () => {
  const block = new Uint8Array(144);
  setHalf(block, 0, half.one);
  setHalf(block, 2, half.half);
  const scales = 4;
  block[scales + 0] = 0xc2; // scale 0 = 2; its top bits (3) are scale 4's bits 4-5
  block[scales + 4] = 0x41; // min 0 = 1; its top bits (1) are min 4's bits 4-5
  block[scales + 8] = 0x25; // scale 4 low bits 5, min 4 low bits 2 -> scale 4 = 53, min 4 = 18
  const qs = 16;
  block[qs + 0] = 0x73; // value 0: nibble 3 (sub-block 0); value 32: nibble 7 (sub-block 1, scale 0)
  block[qs + 64] = 0x0a; // value 128: nibble 10 (sub-block 4)
  const values = dequantizeQ4_K(block);
  assert.is(values.length, 256);
  assert.is(values[0], 1 * 2 * 3 - 0.5 * 1);
  assert.is(values[1], -0.5);
  assert.is(values[32], 0);
  assert.is(values[128], 1 * 53 * 10 - 0.5 * 18);
  assert.is(values[129], -9);
});

test("Q5_K: Q4_K's scales and nibbles (qs after 32 bytes of qh), the fifth bit of value l of pair p at bit 2p (low sub-block) or 2p + 1 (high) of qh[l]", () => {
  const block = new Uint8Array(176);
  setHalf(block, 0, half.one);
  setHalf(block, 2, half.half);
  const scales = 4;
  block[scales + 0] = 0xc2; // scale 0 = 2 (top bits: scale 4's bits 4-5 = 3)
  block[scales + 4] = 0x41; // min 0 = 1 (top bits: min 4's bits 4-5 = 1)
  block[scales + 8] = 0x25; // scale 4 = 53, min 4 = 18
  block[scales + 9] = 0x03; // scale 5 = 3, min 5 = 0
  const qh = 16;
  const qs = 48;
  block[qs + 0] = 0x73; // value 0: nibble 3; value 32: nibble 7 (scale 0 for sub-block 1)
  block[qh + 0] = 0b0000_0001 | 0b0001_0000; // value 0: +16 (pair 0, low); value 128: +16 (pair 2, low)
  block[qs + 64] = 0x0a; // value 128: nibble 10 (sub-block 4)
  block[qh + 1] = 0b0010_0000; // value 161 (pair 2, high sub-block 5, l = 1): +16
  const values = dequantizeQ5_K(block);
  assert.is(values.length, 256);
  assert.is(values[0], 1 * 2 * (3 + 16) - 0.5 * 1);
  assert.is(values[32], 0);
  assert.is(values[128], 1 * 53 * (10 + 16) - 0.5 * 18);
  assert.is(values[129], -9);
  assert.is(values[161], 1 * 3 * (0 + 16));
  assert.is(values[160], 0);
});

test("Q6_K: 4 low bits from ql, 2 high bits from qh, signed 8-bit scales per 16 values", () => {
  const block = new Uint8Array(210);
  const ql = 0;
  const qh = 128;
  const scales = new Int8Array(block.buffer, 192, 16);
  setHalf(block, 208, half.quarter);
  scales.set([3, 0, -2, 0, 4, 0, -1, 0, 1]);
  block[ql + 0] = 0x5a;
  block[qh + 0] = 0xe4; // high bits 0, 1, 2, 3 for values 0, 32, 64, 96
  const values = dequantizeQ6_K(block);
  assert.is(values[0], 0.25 * 3 * ((0xa | (0 << 4)) - 32));
  assert.is(values[32], 0.25 * -2 * ((0 | (1 << 4)) - 32));
  assert.is(values[64], 0.25 * 4 * ((0x5 | (2 << 4)) - 32));
  assert.is(values[96], 0.25 * -1 * ((0 | (3 << 4)) - 32));
  assert.is(values[16], 0);
  assert.is(values[128], 0.25 * 1 * -32);
});

test("the random models' Q4_K and Q5_K quantizers write blocks the loader reads back within one step of each sub-block", () => {
  let seed = 7;
  const normal = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const u = seed / 2 ** 32;
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return Math.sqrt(-2 * Math.log(u + 1e-12)) * Math.cos(2 * Math.PI * (seed / 2 ** 32));
  };
  // Two super-blocks: one of mixed signs, one all positive (its sub-blocks' ranges start at 0).
  const values = Float32Array.from({ length: 512 }, (_, i) => (i < 256 ? 0.02 * normal() : 0.5 + 0.1 * normal()));
  for (const [quant, bytes, levels, dequantize] of [["q4_K", 144, 15, dequantizeQ4_K], ["q5_K", 176, 31, dequantizeQ5_K]] as const) {
    const blocks = quantizeRows(values, quant);
    assert.is(blocks.length, 2 * bytes);
    const back = dequantize(blocks);
    for (let s = 0; s < 16; s++) {
      const sub = values.subarray(32 * s, 32 * s + 32);
      const step = (Math.max(...sub) - Math.min(0, ...sub)) / levels;
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(back[32 * s + j] - sub[j]) <= 0.75 * step, `${quant} sub-block ${s} value ${j}: ${sub[j]} read back as ${back[32 * s + j]} (step ${step})`);
    }
    assert.throws(() => quantizeRows(new Float32Array(128), quant), /not a whole number of 256-value blocks/);
  }
});

test("Q2_K and Q3_K quantizers write blocks the loader reads back within a step of each 16-value sub-block", () => {
  let seed = 11;
  const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const values = Float32Array.from({ length: 512 }, (_, i) => (i < 256 ? 0.05 * uniform() : 0.3 + 0.1 * uniform()));
  for (const [quant, bytes, dequantize] of [["q2_K", 84, dequantizeQ2_K], ["q3_K", 110, dequantizeQ3_K]] as const) {
    const back = dequantize(quantizeRows(values, quant));
    assert.is(quantizeRows(values, quant).length, 2 * bytes);
    for (let s = 0; s < 32; s++) {
      const sub = values.subarray(16 * s, 16 * s + 16);
      // Q2_K spans [min(0, lo), hi] in 3 steps; Q3_K is symmetric, max |x| / 4 a step, its top clamped at +3 steps.
      const [step, bound] = quant === "q2_K" ? [(Math.max(...sub) - Math.min(0, ...sub)) / 3, 0.75] : [Math.max(...Array.from(sub, Math.abs)) / 4, 1.25];
      for (let j = 0; j < 16; j++) assert.ok(Math.abs(back[16 * s + j] - sub[j]) <= bound * step, `${quant} sub-block ${s} value ${j}: ${sub[j]} read back as ${back[16 * s + j]} (step ${step})`);
    }
  }
});

test("Q3_K's 12 scale bytes unpack as ggml's word-wise shuffle does, for any bytes", () => {
  // ggml's dequantize_row_q3_K reads the bytes as three little-endian words a, b, c and builds
  // four words of signed-offset scales: (a & m4) | ((c & m2) << 4), (b & m4) | (((c >> 2) & m2) << 4),
  // ((a >> 4) & m4) | (((c >> 4) & m2) << 4), ((b >> 4) & m4) | (((c >> 6) & m2) << 4).
  let seed = 5;
  for (let trial = 0; trial < 200; trial++) {
    const bytes = Uint8Array.from({ length: 12 }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24);
    const word = (k: number) => new DataView(bytes.buffer).getUint32(4 * k, true);
    const [a, b, c] = [word(0), word(1), word(2)];
    const m4 = 0x0f0f0f0f;
    const m2 = 0x03030303;
    const words = [(a & m4) | ((c & m2) << 4), (b & m4) | (((c >>> 2) & m2) << 4), ((a >>> 4) & m4) | (((c >>> 4) & m2) << 4), ((b >>> 4) & m4) | (((c >>> 6) & m2) << 4)];
    for (let j = 0; j < 16; j++) assert.is(q3KScale(bytes, 0, j), ((words[j >> 2] >>> (8 * (j & 3))) & 0xff) - 32, `trial ${trial}, scale ${j}`);
  }
});

test("IQ4_NL and IQ4_XS: nibbles index ggml's 16-level grid, in Q4_0's order, under the block's (IQ4_XS: each sub-block's 6-bit, offset) scale", () => {
  const nl = new Uint8Array(18);
  setHalf(nl, 0, half.half);
  nl[2] = 0x8f; // value 0: level 15 (113); value 16: level 8 (1)
  nl[3] = 0x00; // value 1 and 17: level 0 (-127)
  const nlValues = dequantizeIQ4_NL(nl);
  assert.equal([nlValues[0], nlValues[16], nlValues[1], nlValues[17]], [56.5, 0.5, -63.5, -63.5]);
  const xs = new Uint8Array(136);
  setHalf(xs, 0, half.one);
  xs[4] = 0x21; // sub-block 0: ls low 4 bits 1; sub-block 1: 2
  xs[2] = 0b0000_1110; // scales_h: sub-block 0 top bits 2 (ls 33), sub-block 1 top bits 3 (ls 50)
  xs[8] = 0x7f; // value 0: level 15; value 16: level 7 (-10)
  xs[8 + 16] = 0x08; // value 32 (sub-block 1): level 8 (1)
  const xsValues = dequantizeIQ4_XS(xs);
  assert.equal([xsValues[0], xsValues[16], xsValues[32]], [(33 - 32) * 113, (33 - 32) * -10, (50 - 32) * 1]);
  // Sub-block 2's scale is 0 - 32: its nibble 0 is level 0, -127, times -32.
  assert.is(xsValues[64], -32 * -127);
});

test("IQ4_NL and IQ4_XS quantizers land every value on the grid level nearest it", () => {
  let seed = 3;
  const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const values = Float32Array.from({ length: 512 }, (_, i) => (i < 256 ? 0.05 * uniform() : 0.2 + 0.1 * uniform()));
  for (const [quant, dequantize] of [["iq4_nl", dequantizeIQ4_NL], ["iq4_xs", dequantizeIQ4_XS]] as const) {
    const back = dequantize(quantizeRows(values, quant));
    for (let s = 0; s < 16; s++) {
      const sub = values.subarray(32 * s, 32 * s + 32);
      // The grid's widest gap is 23 levels, and the scale puts the largest magnitude near +113.
      const step = Math.max(...Array.from(sub, Math.abs)) / 113;
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(back[32 * s + j] - sub[j]) <= 12.5 * step, `${quant} sub-block ${s} value ${j}: ${sub[j]} read back as ${back[32 * s + j]}`);
    }
  }
});

/** An E2M1 nibble's value from its fields (OCP MX spec): sign bit 3, exponent bits 1-2 (bias 1), mantissa bit 0. */
function e2m1(nibble: number): number {
  const [exponent, mantissa] = [(nibble >> 1) & 3, nibble & 1];
  const magnitude = exponent === 0 ? mantissa / 2 : 2 ** (exponent - 1) * (1 + mantissa / 2);
  return nibble & 8 ? -magnitude : magnitude;
}

test("MXFP4: each nibble an E2M1 value, in Q4_0's order, times the block's E8M0 scale 2^(e - 127)", () => {
  // Byte j: low nibble j (value j), high nibble 15 - j (value j + 16), so each half holds every nibble.
  const exponents = [0, 1, 127, 128, 254];
  const blocks = new Uint8Array(17 * exponents.length);
  exponents.forEach((e, b) => {
    blocks[17 * b] = e;
    for (let j = 0; j < 16; j++) blocks[17 * b + 1 + j] = j | ((15 - j) << 4);
  });
  const values = dequantizeMXFP4(blocks);
  assert.is(values.length, 32 * exponents.length);
  exponents.forEach((e, b) => {
    for (let j = 0; j < 16; j++) {
      // e 0 and 1 give f32 subnormals; e 254 times 2 or more overflows f32 to ±Infinity.
      assert.is(values[32 * b + j], Math.fround(e2m1(j) * 2 ** (e - 127)), `e ${e}, value ${j}`);
      assert.is(values[32 * b + 16 + j], Math.fround(e2m1(15 - j) * 2 ** (e - 127)), `e ${e}, value ${16 + j}`);
    }
    // ggml's level for E2M1's -0 is 0: the value is +0.
    assert.ok(Object.is(values[32 * b + 8], 0), `e ${e}: nibble 8 reads +0`);
  });
  assert.equal([values[1], values[32 + 1]], [2 ** -128, 2 ** -127], "e 0 and 1: nibble 1 (0.5) is the f32 subnormal 2^-128, 2^-127");
  assert.is(values[32 * 4 + 7], Infinity, "e 254: nibble 7 (6) overflows f32");
});

test("MXFP4 quantizer: the smallest scale that holds the block's largest magnitude, every value at its nearest level", () => {
  let seed = 7;
  const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  // Blocks of spreads from 1e-30 to 1e3, one all zeros, one whose largest magnitude is exactly 12 * 2^-5.
  const spreads = [0.05, 0.2, 1e-30, 1e3, 0, 0.3];
  const values = Float32Array.from({ length: 32 * spreads.length }, (_, i) => spreads[i >> 5] * uniform());
  values[32 * 5 + 3] = 12 * 2 ** -5;
  const bytes = quantizeRows(values, "mxfp4");
  assert.is(bytes.length, 17 * spreads.length);
  const back = dequantizeMXFP4(bytes);
  const levels = Array.from({ length: 16 }, (_, n) => 2 * e2m1(n));
  spreads.forEach((_, b) => {
    const block = values.subarray(32 * b, 32 * b + 32);
    const amax = Math.max(...Array.from(block, Math.abs));
    const d = 2 ** (bytes[17 * b] - 128);
    if (amax > 0) assert.ok(amax <= 12 * d && amax > 6 * d, `block ${b}: max ${amax} against scale ${d}`);
    for (let j = 0; j < 32; j++) {
      const error = Math.abs(back[32 * b + j] - block[j]);
      const best = Math.min(...levels.map((level) => Math.abs(Math.fround(level * d) - block[j])));
      assert.is(error, best, `block ${b} value ${j}: ${block[j]} read back as ${back[32 * b + j]}`);
    }
  });
  assert.is(bytes[17 * 5], 128 - 5, "a largest magnitude of exactly 12 * 2^-5 takes d = 2^-5 itself");
});

test("Q4_1, Q5_0, Q5_1: d * q + m, or d * (q - 16) without a min; value j's fifth bit is bit j of the u32 qh", () => {
  const q41 = new Uint8Array(20);
  setHalf(q41, 0, half.half);
  setHalf(q41, 2, half.one);
  q41[4] = 0x3f; // value 0: 15, value 16: 3
  assert.equal([dequantizeQ4_1(q41)[0], dequantizeQ4_1(q41)[16], dequantizeQ4_1(q41)[1]], [0.5 * 15 + 1, 0.5 * 3 + 1, 1]);
  const q50 = new Uint8Array(22);
  setHalf(q50, 0, half.two);
  q50[2] = 0b0000_0010; // qh bit 1: value 1's fifth bit
  q50[4] = 0b0000_0010; // qh bit 17 (byte 2, bit 1): value 17's fifth bit
  q50[6 + 1] = 0x52; // value 1: nibble 2, value 17: nibble 5
  const v50 = dequantizeQ5_0(q50);
  assert.equal([v50[1], v50[17], v50[0], v50[16]], [2 * (2 + 16 - 16), 2 * (5 + 16 - 16), 2 * -16, 2 * -16]);
  const q51 = new Uint8Array(24);
  setHalf(q51, 0, half.one);
  setHalf(q51, 2, half.quarter);
  q51[4 + 3] = 0x80; // qh bit 31: value 31's fifth bit
  q51[8 + 15] = 0xf0; // value 31: nibble 15
  assert.is(dequantizeQ5_1(q51)[31], 31 + 0.25);
});

test("a byte count that is not whole blocks is rejected", () => {
  assert.throws(() => dequantizeQ8_0(new Uint8Array(35)), /not a whole number of 34-byte blocks/);
});

test.run();
