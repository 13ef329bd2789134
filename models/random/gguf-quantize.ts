// Quantization of f32 rows into GGUF's Q8_0 and Q4_0 blocks (32 values each, along a row), as
// llama.cpp's reference quantizers define them (ggml-quants.c; formats in ggml-common.h):
//   Q8_0: d = max|x| / 127, q = x / d rounded half away from zero (C's roundf), as int8;
//         block = f16 d, int8 q[32].
//   Q4_0: m = the value of largest magnitude (sign kept), d = m / -8, q = min(15, trunc(x / d + 8.5));
//         block = f16 d, 16 bytes whose low nibbles hold q[0..15] and high nibbles q[16..31].
// The loader's dequantizer (runtime/loader/gguf-quants.ts) reads them back: x = d * q, d * (q - 8).
// Q4_K and Q5_K (256-value super-blocks of eight 32-value sub-blocks) are quantized by kQuantBlock
// below, more simply than llama.cpp's search for the best scales, into the same layouts.
import { f16BitsToF32, f32ToF16Bits } from "../../dsl/dtype.ts";
import { q4_0, q4_K, q5_K, q8_0 } from "../../runtime/loader/gguf-quants.ts";

export type GgufQuant = "q8_0" | "q4_0" | "q4_K" | "q5_K";

const quantFormats = { q8_0, q4_0, q4_K, q5_K } as const;

/** Values per block of the format: rows must be whole blocks. */
export const valuesPerQuantBlock = (quant: GgufQuant): number => quantFormats[quant].valuesPerBlock;

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
  const d = f16BitsToF32(f32ToF16Bits(Math.max(...steps) / 63));
  const dmin = f16BitsToF32(f32ToF16Bits(Math.max(...lows.map((low) => -low)) / 63));
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

/** Whole rows of f32 values (a multiple of the format's block) as blocks of the format. */
export function quantizeRows(values: Float32Array, quant: GgufQuant): Uint8Array {
  const { valuesPerBlock, bytesPerBlock } = quantFormats[quant];
  if (values.length % valuesPerBlock !== 0) throw new RangeError(`${values.length} values is not a whole number of ${valuesPerBlock}-value blocks`);
  const blocks = values.length / valuesPerBlock;
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
