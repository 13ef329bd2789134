// Quantization of f32 rows into GGUF blocks along a row. Q8_0 and Q4_0 (32 values each) as
// llama.cpp's reference quantizers define them (ggml-quants.c; formats in ggml-common.h):
//   Q8_0: d = max|x| / 127, q = x / d rounded half away from zero (C's roundf), as int8;
//         block = f16 d, int8 q[32].
//   Q4_0: m = the value of largest magnitude (sign kept), d = m / -8, q = min(15, trunc(x / d + 8.5));
//         block = f16 d, 16 bytes whose low nibbles hold q[0..15] and high nibbles q[16..31].
// The loader's dequantizer (runtime/loader/gguf-quants.ts) reads them back: x = d * q, d * (q - 8).
// Q4_K and Q5_K (256-value super-blocks of eight 32-value sub-blocks) are quantized by kQuantBlock
// below, Q2_K and Q3_K (sixteen 16-value sub-blocks) by q2KBlock and q3KBlock, IQ4_NL and IQ4_XS
// (nibbles indexing a 16-level grid) by iq4Block, MXFP4 (nibbles indexing E2M1's levels under a
// power-of-two scale) by mxfp4Block, and Q4_1, Q5_0 and Q5_1 by legacyBlock, more simply than
// llama.cpp's search for the best scales, into the same layouts.
import { f16BitsToF32, f32ToF16Bits } from "../../dsl/dtype.ts";
import { forEachTwoBitValue, iq4_nl, iq4_xs, iq4Grid, mxfp4, mxfp4Levels, mxfp4Scale, q2_K, q3_K, q4_0, q4_1, q4_K, q5_0, q5_1, q5_K, q8_0 } from "../../runtime/loader/gguf-quants.ts";

export type GgufQuant = "q8_0" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "q2_K" | "q3_K" | "q4_K" | "q5_K" | "iq4_nl" | "iq4_xs" | "mxfp4";

const quantFormats = { q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, iq4_nl, iq4_xs, mxfp4 } as const;

/** Values per block of the format: rows must be whole blocks. */
export const valuesPerQuantBlock = (quant: GgufQuant): number => quantFormats[quant].valuesPerBlock;

/** f16-rounded `value / divisor`: a block scale as the file stores it. */
const superScale = (value: number, divisor: number) => f16BitsToF32(f32ToF16Bits(value / divisor));

/**
 * One Q4_K (bits 4) or Q5_K (bits 5) super-block: each sub-block's range [min(0, lo), hi] in
 * 2^bits - 1 steps, x = d * sc * q - dmin * m with 6-bit sc and m against f16 d and dmin (each the
 * largest sub-block scale or min over 63); q is chosen against the rounded scales, so the rounding
 * of d, sc, dmin and m is compensated. Q5_K keeps each q's fifth bit in qh, 32 bytes before qs.
 */
function kQuantBlock(x: Float32Array, out: Uint8Array, at: number, bits: 4 | 5): void {
  const view = new DataView(out.buffer, out.byteOffset);
  const top = 2 ** bits - 1;
  const lows = Array.from({ length: 8 }, (_, s) => Math.min(0, ...x.subarray(32 * s, 32 * s + 32)));
  const steps = Array.from({ length: 8 }, (_, s) => (Math.max(...x.subarray(32 * s, 32 * s + 32)) - lows[s]) / top);
  const d = superScale(Math.max(...steps), 63);
  const dmin = superScale(Math.max(...lows.map((low) => -low)), 63);
  const sixBits = (v: number, unit: number) => (unit === 0 ? 0 : Math.min(63, Math.round(v / unit)));
  const scales = steps.map((step) => sixBits(step, d));
  const mins = lows.map((low) => sixBits(-low, dmin));
  view.setUint16(at, f32ToF16Bits(d), true);
  view.setUint16(at + 2, f32ToF16Bits(dmin), true);
  // The 12 scale bytes, as the loader's q4KScaleMin unpacks them.
  for (let s = 0; s < 4; s++) {
    out[at + 4 + s] = (scales[s] & 63) | ((scales[s + 4] >> 4) << 6);
    out[at + 8 + s] = (mins[s] & 63) | ((mins[s + 4] >> 4) << 6);
    out[at + 12 + s] = (scales[s + 4] & 15) | ((mins[s + 4] & 15) << 4);
  }
  const q = (s: number, j: number) => {
    const step = d * scales[s];
    return step === 0 ? 0 : Math.max(0, Math.min(top, Math.round((x[32 * s + j] + dmin * mins[s]) / step)));
  };
  // Each 32 bytes hold two sub-blocks' low 4 bits: the first in the low nibbles, the second in the high
  // ones; Q5_K's fifth bits of pair p go to bits 2p and 2p + 1 of qh[j].
  const qsAt = at + (bits === 5 ? 48 : 16);
  for (let pair = 0; pair < 4; pair++) {
    for (let j = 0; j < 32; j++) {
      const [low, high] = [q(2 * pair, j), q(2 * pair + 1, j)];
      out[qsAt + 32 * pair + j] = (low & 15) | ((high & 15) << 4);
      if (bits === 5) out[at + 16 + j] |= ((low >> 4) << (2 * pair)) | ((high >> 4) << (2 * pair + 1));
    }
  }
}

/** Sub-block s of a Q2_K/Q3_K super-block holds values 16 s .. 16 s + 15 in the order dequantization writes them. */
const subBlock = (x: Float32Array, s: number) => x.subarray(16 * s, 16 * s + 16);

/** One Q2_K super-block: each sub-block's range [min(0, lo), hi] in 3 steps, 4-bit scales and mins under f16 d and dmin. */
function q2KBlock(x: Float32Array, out: Uint8Array, at: number): void {
  const lows = Array.from({ length: 16 }, (_, s) => Math.min(0, ...subBlock(x, s)));
  const steps = Array.from({ length: 16 }, (_, s) => (Math.max(...subBlock(x, s)) - lows[s]) / 3);
  const d = superScale(Math.max(...steps), 15);
  const dmin = superScale(Math.max(...lows.map((low) => -low)), 15);
  const code = (v: number, unit: number) => (unit === 0 ? 0 : Math.min(15, Math.round(v / unit)));
  const scales = steps.map((step) => code(step, d));
  const mins = lows.map((low) => code(-low, dmin));
  for (let s = 0; s < 16; s++) out[at + s] = scales[s] | (mins[s] << 4);
  // Each value's bits go where the loader reads them (forEachTwoBitValue); its sub-block is its scale.
  forEachTwoBitValue((v, qsByte, shift, s) => {
    const step = d * scales[s];
    const q = step === 0 ? 0 : Math.max(0, Math.min(3, Math.round((x[v] + dmin * mins[s]) / step)));
    out[at + 16 + qsByte] |= q << shift;
  });
  const view = new DataView(out.buffer, out.byteOffset);
  view.setUint16(at + 80, f32ToF16Bits(d), true);
  view.setUint16(at + 82, f32ToF16Bits(dmin), true);
}

/** One Q3_K super-block: each sub-block symmetric in [-4, 3] steps, a signed 6-bit scale (stored + 32) under f16 d. */
function q3KBlock(x: Float32Array, out: Uint8Array, at: number): void {
  const steps = Array.from({ length: 16 }, (_, s) => Math.max(...Array.from(subBlock(x, s), Math.abs)) / 4);
  const d = superScale(Math.max(...steps), 31);
  const scales = steps.map((step) => (d === 0 ? 0 : Math.min(31, Math.round(step / d))));
  // Scale j's low 4 bits: low nibble of byte j (j < 8) or high nibble of byte j - 8; its top 2 bits: bits 2 floor(j / 4) of byte 8 + j % 4.
  scales.forEach((scale, j) => {
    const stored = scale + 32;
    out[at + 96 + (j < 8 ? j : j - 8)] |= j < 8 ? stored & 15 : (stored & 15) << 4;
    out[at + 96 + 8 + (j % 4)] |= (stored >> 4) << (2 * Math.floor(j / 4));
  });
  forEachTwoBitValue((v, qsByte, shift, s, hmaskByte, hmaskBit) => {
    const step = d * scales[s];
    const q = step === 0 ? 0 : Math.max(-4, Math.min(3, Math.round(x[v] / step)));
    out[at + 32 + qsByte] |= ((q + 4) & 3) << shift;
    out[at + hmaskByte] |= ((q + 4) >> 2) << hmaskBit;
  });
  new DataView(out.buffer, out.byteOffset).setUint16(at + 108, f32ToF16Bits(d), true);
}

const twoBitQuantizers = { q2_K: q2KBlock, q3_K: q3KBlock };

/**
 * One Q4_1 or Q5_1 block (the range [lo, hi] in 15 or 31 steps from the min m, x = d * q + m) or
 * Q5_0 block (symmetric, x = d * (q - 16), d from the value of largest magnitude as Q4_0's is).
 */
function legacyBlock(x: Float32Array, out: Uint8Array, at: number, quant: "q4_1" | "q5_0" | "q5_1"): void {
  const view = new DataView(out.buffer, out.byteOffset);
  const withMin = quant !== "q5_0";
  const top = quant === "q4_1" ? 15 : 31;
  let d: number;
  let m = 0;
  if (withMin) {
    m = superScale(Math.min(...x), 1);
    d = superScale(Math.max(...x) - m, top);
    view.setUint16(at + 2, f32ToF16Bits(m), true);
  } else {
    d = superScale(x.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0), -16);
  }
  view.setUint16(at, f32ToF16Bits(d), true);
  const q = (v: number) => (d === 0 ? (withMin ? 0 : 16) : Math.max(0, Math.min(top, Math.round(withMin ? (v - m) / d : v / d + 16))));
  const qhAt = at + (withMin ? 4 : 2);
  const qsAt = qhAt + (quant === "q4_1" ? 0 : 4);
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    const [low, high] = [q(x[j]), q(x[j + 16])];
    out[qsAt + j] = (low & 15) | ((high & 15) << 4);
    qh |= ((low >> 4) << j) | ((high >> 4) << (j + 16));
  }
  if (quant !== "q4_1") view.setUint32(qhAt, qh >>> 0, true);
}

/** The index of the level nearest t (the first of two as near). */
function nearestLevel(levels: readonly number[], t: number): number {
  let best = 0;
  for (let i = 1; i < 16; i++) if (Math.abs(levels[i] - t) < Math.abs(levels[best] - t)) best = i;
  return best;
}

/**
 * 32 values as 16 bytes of level nibbles under `scale` (Q4_0's order: values 0-15 low nibbles,
 * 16-31 high); under a zero scale every value decodes to 0 whatever its nibble.
 */
function levelNibbles(x: Float32Array, levels: readonly number[], scale: number, out: Uint8Array, qsAt: number): void {
  const level = (v: number) => (scale === 0 ? 8 : nearestLevel(levels, v / scale));
  for (let j = 0; j < 16; j++) out[qsAt + j] = level(x[j]) | (level(x[j + 16]) << 4);
}

/** A sub-block's scale: its largest magnitude lands on the grid's +113 (its -127 then covers the negatives). */
const iq4Step = (x: Float32Array) => Math.max(...Array.from(x, Math.abs)) / 113;

/** One IQ4_NL block (32 values, f16 d) or IQ4_XS super-block (8 sub-blocks of 32, 6-bit scales stored + 32 under f16 d). */
function iq4Block(x: Float32Array, out: Uint8Array, at: number, quant: "iq4_nl" | "iq4_xs"): void {
  const view = new DataView(out.buffer, out.byteOffset);
  if (quant === "iq4_nl") {
    const d = superScale(iq4Step(x), 1);
    view.setUint16(at, f32ToF16Bits(d), true);
    levelNibbles(x, iq4Grid, d, out, at + 2);
    return;
  }
  const steps = Array.from({ length: 8 }, (_, s) => iq4Step(x.subarray(32 * s, 32 * s + 32)));
  const d = superScale(Math.max(...steps), 31);
  view.setUint16(at, f32ToF16Bits(d), true);
  let scalesHigh = 0;
  steps.forEach((step, s) => {
    const ls = 32 + (d === 0 ? 0 : Math.min(31, Math.round(step / d)));
    out[at + 4 + (s >> 1)] |= (ls & 15) << (4 * (s & 1));
    scalesHigh |= (ls >> 4) << (2 * s);
    levelNibbles(x.subarray(32 * s, 32 * s + 32), iq4Grid, d * (ls - 32), out, at + 8 + 16 * s);
  });
  view.setUint16(at + 2, scalesHigh, true);
}

/**
 * One MXFP4 block: e the smallest E8M0 exponent whose scale d = 2^(e - 128) puts the largest
 * magnitude within the top level, 12 d (but at least 0: smaller magnitudes round to 0 or a few
 * subnormal steps), then each value at its nearest level. ggml's quantize_row_mxfp4_ref takes
 * e = floor(log2 max) + 125: the same, but one less where the max is over 12 times that scale,
 * clipping it to 12 d. An f32 max over 12 never rounds onto a power of two below it, so the ceil of
 * its log2 is exact (and no f32 max needs e above 253).
 */
function mxfp4Block(x: Float32Array, out: Uint8Array, at: number): void {
  const amax = Math.max(...Array.from(x, Math.abs));
  const e = amax === 0 ? 0 : Math.max(0, 128 + Math.ceil(Math.log2(amax / 12)));
  out[at] = e;
  levelNibbles(x, mxfp4Levels, mxfp4Scale(e), out, at + 1);
}

/** Whole rows of f32 values (a multiple of the format's block) as blocks of the format. */
export function quantizeRows(values: Float32Array, quant: GgufQuant): Uint8Array {
  const { valuesPerBlock, bytesPerBlock } = quantFormats[quant];
  if (values.length % valuesPerBlock !== 0) throw new RangeError(`${values.length} values is not a whole number of ${valuesPerBlock}-value blocks`);
  const blocks = values.length / valuesPerBlock;
  if (quant === "q4_1" || quant === "q5_0" || quant === "q5_1") {
    const out = new Uint8Array(blocks * bytesPerBlock);
    for (let b = 0; b < blocks; b++) legacyBlock(values.subarray(32 * b, 32 * b + 32), out, b * bytesPerBlock, quant);
    return out;
  }
  if (quant === "iq4_nl" || quant === "iq4_xs") {
    const out = new Uint8Array(blocks * bytesPerBlock);
    for (let b = 0; b < blocks; b++) iq4Block(values.subarray(valuesPerBlock * b, valuesPerBlock * (b + 1)), out, b * bytesPerBlock, quant);
    return out;
  }
  if (quant === "mxfp4") {
    const out = new Uint8Array(blocks * bytesPerBlock);
    for (let b = 0; b < blocks; b++) mxfp4Block(values.subarray(32 * b, 32 * b + 32), out, b * bytesPerBlock);
    return out;
  }
  if (quant === "q2_K" || quant === "q3_K") {
    const out = new Uint8Array(blocks * bytesPerBlock);
    for (let b = 0; b < blocks; b++) twoBitQuantizers[quant](values.subarray(256 * b, 256 * b + 256), out, b * bytesPerBlock);
    return out;
  }
  if (quant === "q4_K" || quant === "q5_K") {
    const out = new Uint8Array(blocks * bytesPerBlock);
    for (let b = 0; b < blocks; b++) kQuantBlock(values.subarray(256 * b, 256 * b + 256), out, b * bytesPerBlock, quant === "q4_K" ? 4 : 5);
    return out;
  }
  const out = new Uint8Array(blocks * bytesPerBlock);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const x = values.subarray(32 * b, 32 * b + 32);
    const at = b * bytesPerBlock;
    if (quant === "q8_0") {
      const amax = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const d = amax / 127;
      const inverse = d === 0 ? 0 : 1 / d;
      view.setUint16(at, f32ToF16Bits(d), true);
      for (let j = 0; j < 32; j++) view.setInt8(at + 2 + j, Math.sign(x[j]) * Math.round(Math.abs(x[j] * inverse)));
    } else {
      const m = x.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
      const d = m / -8;
      const inverse = d === 0 ? 0 : 1 / d;
      const q = (v: number) => Math.min(15, Math.trunc(v * inverse + 8.5));
      view.setUint16(at, f32ToF16Bits(d), true);
      for (let j = 0; j < 16; j++) out[at + 2 + j] = q(x[j]) | (q(x[j + 16]) << 4);
    }
  }
  return out;
}
