// GGML quantized block formats: their sizes, and dequantization to f32. Layouts (ggml-common.h):
//   Q8_0  34 B / 32 values:  f16 d, int8 q[32];                     x = d * q
//   Q4_0  18 B / 32 values:  f16 d, u8 qs[16];  value j < 16 is the low nibble of qs[j], value j + 16
//                            its high nibble;                        x = d * (nibble - 8)
//   Q4_1  20 B / 32 values:  f16 d, f16 m, u8 qs[16] (nibbles as Q4_0's);  x = d * q + m
//   Q5_0  22 B / 32 values:  f16 d, u32 qh (bit j: value j's fifth bit), u8 qs[16]; x = d * (q - 16)
//   Q5_1  24 B / 32 values:  f16 d, f16 m, u32 qh, u8 qs[16];             x = d * q + m
//   Q2_K  84 B / 256 values: u8 scales[16] (low nibble scale, high nibble min), u8 qs[64], f16 d,
//                            f16 dmin; 16 sub-blocks of 16;        x = d*scale*q2 - dmin*min
//   Q3_K 110 B / 256 values: u8 hmask[32], u8 qs[64], u8 scales[12] (16 6-bit scales), f16 d;
//                            q3 = low 2 bits from qs - 4 unless the hmask bit; x = d*(scale-32)*q3
//   Q4_K 144 B / 256 values: f16 d, f16 dmin, u8 scales[12], u8 qs[128]; 8 sub-blocks of 32 with
//                            6-bit scale/min pairs packed in `scales`; x = d*scale*nibble - dmin*min
//   Q5_K 176 B / 256 values: f16 d, f16 dmin, u8 scales[12] (as Q4_K's), u8 qh[32], u8 qs[128]; value
//                            q = low nibble from qs (as Q4_K's) + 16 * bit of qh; x = d*scale*q - dmin*min
//   Q6_K 210 B / 256 values: u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), int8 scales[16],
//                            f16 d; 16 sub-blocks of 16;            x = d * scale * (q6 - 32)
//   IQ4_NL 18 B / 32 values: f16 d, u8 qs[16] (nibbles as Q4_0's); x = d * grid[nibble], grid the
//                            16 non-linear levels below
//   IQ4_XS 136 B / 256 values: f16 d, u16 scales_h, u8 scales_l[4], u8 qs[128]; 8 sub-blocks of 32,
//                            each nibbles as Q4_0's under its 6-bit scale ls (low 4 bits from
//                            scales_l, top 2 from scales_h);        x = d * (ls - 32) * grid[nibble]
// Q8_0/Q4_0 stay packed for the engine's quantized matmuls (the GPU plan's block kernels); the
// K-quants stay packed until the compiled model widens each matrix into its panels.
import { f16BitsToNumber } from "./half.ts";

export interface BlockFormat {
  valuesPerBlock: number;
  bytesPerBlock: number;
}

export const q8_0: BlockFormat = { valuesPerBlock: 32, bytesPerBlock: 34 };
export const q4_0: BlockFormat = { valuesPerBlock: 32, bytesPerBlock: 18 };
export const q4_1: BlockFormat = { valuesPerBlock: 32, bytesPerBlock: 20 };
export const q5_0: BlockFormat = { valuesPerBlock: 32, bytesPerBlock: 22 };
export const q5_1: BlockFormat = { valuesPerBlock: 32, bytesPerBlock: 24 };
export const q2_K: BlockFormat = { valuesPerBlock: 256, bytesPerBlock: 84 };
export const q3_K: BlockFormat = { valuesPerBlock: 256, bytesPerBlock: 110 };
export const q4_K: BlockFormat = { valuesPerBlock: 256, bytesPerBlock: 144 };
export const q5_K: BlockFormat = { valuesPerBlock: 256, bytesPerBlock: 176 };
export const q6_K: BlockFormat = { valuesPerBlock: 256, bytesPerBlock: 210 };
export const iq4_nl: BlockFormat = { valuesPerBlock: 32, bytesPerBlock: 18 };
export const iq4_xs: BlockFormat = { valuesPerBlock: 256, bytesPerBlock: 136 };

/** IQ4_NL's and IQ4_XS's 16 levels (ggml's kvalues_iq4nl), denser near zero where weights are. */
export const iq4Grid: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

function half(bytes: Uint8Array, at: number): number {
  return f16BitsToNumber(bytes[at] | (bytes[at + 1] << 8));
}

function blockCount(bytes: Uint8Array, format: BlockFormat): number {
  if (bytes.byteLength % format.bytesPerBlock !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${format.bytesPerBlock}-byte blocks`);
  }
  return bytes.byteLength / format.bytesPerBlock;
}

export function dequantizeQ8_0(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, q8_0);
  const out = new Float32Array(blocks * 32);
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const at = b * 34;
    const d = half(bytes, at);
    for (let j = 0; j < 32; j++) out[b * 32 + j] = d * signed[at + 2 + j];
  }
  return out;
}

export function dequantizeQ4_0(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, q4_0);
  const out = new Float32Array(blocks * 32);
  for (let b = 0; b < blocks; b++) {
    const at = b * 18;
    const d = half(bytes, at);
    for (let j = 0; j < 16; j++) {
      const packed = bytes[at + 2 + j];
      out[b * 32 + j] = d * ((packed & 0x0f) - 8);
      out[b * 32 + j + 16] = d * ((packed >> 4) - 8);
    }
  }
  return out;
}

// Q4_K packs eight 6-bit scales and eight 6-bit mins into 12 bytes: sub-blocks 0-3 use the low 6 bits
// of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 take 4 low bits from bytes 8-11 and their top
// 2 bits from the spare high bits of bytes 0-3 (scales) and 4-7 (mins).
function q4KScaleMin(scales: Uint8Array, at: number, sub: number): [number, number] {
  if (sub < 4) return [scales[at + sub] & 63, scales[at + sub + 4] & 63];
  const low = scales[at + sub + 4];
  return [(low & 0x0f) | ((scales[at + sub - 4] >> 6) << 4), (low >> 4) | ((scales[at + sub] >> 6) << 4)];
}

/**
 * Q4_K and Q5_K: eight sub-blocks of 32 with 6-bit scales and mins; each 32 bytes of qs hold two
 * sub-blocks, low nibbles first, then high nibbles. Q5_K adds a fifth bit per value from qh (32
 * bytes before qs): value l of pair p's low sub-block takes bit 2p of qh[l], of its high one bit 2p + 1.
 */
function dequantizeQ4OrQ5K(bytes: Uint8Array, format: BlockFormat, fifthBits: boolean): Float32Array {
  const blocks = blockCount(bytes, format);
  const out = new Float32Array(blocks * 256);
  for (let b = 0; b < blocks; b++) {
    const at = b * format.bytesPerBlock;
    const d = half(bytes, at);
    const dmin = half(bytes, at + 2);
    const qhAt = at + 16;
    const qsAt = at + (fifthBits ? 48 : 16);
    for (let pair = 0; pair < 4; pair++) {
      const [scaleLow, minLow] = q4KScaleMin(bytes, at + 4, 2 * pair);
      const [scaleHigh, minHigh] = q4KScaleMin(bytes, at + 4, 2 * pair + 1);
      const y = b * 256 + pair * 64;
      for (let l = 0; l < 32; l++) {
        const packed = bytes[qsAt + pair * 32 + l];
        const high = fifthBits ? bytes[qhAt + l] >> (2 * pair) : 0;
        out[y + l] = d * scaleLow * ((packed & 0x0f) + ((high & 1) << 4)) - dmin * minLow;
        out[y + 32 + l] = d * scaleHigh * ((packed >> 4) + (((high >> 1) & 1) << 4)) - dmin * minHigh;
      }
    }
  }
  return out;
}

export const dequantizeQ4_K = (bytes: Uint8Array): Float32Array => dequantizeQ4OrQ5K(bytes, q4_K, false);
export const dequantizeQ5_K = (bytes: Uint8Array): Float32Array => dequantizeQ4OrQ5K(bytes, q5_K, true);

/**
 * Q4_1, Q5_0 and Q5_1 (32-value blocks, values j and j + 16 in the low and high nibble of qs[j]):
 * with a min m after d, x = d * q + m; without one (Q5_0), x = d * (q - 16). The fifth bit of value
 * j is bit j of the little-endian u32 qh.
 */
function dequantizeLegacy(bytes: Uint8Array, format: BlockFormat, withMin: boolean, fifthBits: boolean): Float32Array {
  const blocks = blockCount(bytes, format);
  const out = new Float32Array(blocks * 32);
  for (let b = 0; b < blocks; b++) {
    const at = b * format.bytesPerBlock;
    const d = half(bytes, at);
    const m = withMin ? half(bytes, at + 2) : 0;
    const qhAt = at + (withMin ? 4 : 2);
    const qh = fifthBits ? (bytes[qhAt] | (bytes[qhAt + 1] << 8) | (bytes[qhAt + 2] << 16) | (bytes[qhAt + 3] << 24)) >>> 0 : 0;
    const qsAt = qhAt + (fifthBits ? 4 : 0);
    const value = (q: number) => (withMin ? d * q + m : d * (q - 16));
    for (let j = 0; j < 16; j++) {
      out[b * 32 + j] = value((bytes[qsAt + j] & 0x0f) | (((qh >>> j) & 1) << 4));
      out[b * 32 + j + 16] = value((bytes[qsAt + j] >> 4) | (((qh >>> (j + 16)) & 1) << 4));
    }
  }
  return out;
}

export const dequantizeQ4_1 = (bytes: Uint8Array): Float32Array => dequantizeLegacy(bytes, q4_1, true, false);
export const dequantizeQ5_0 = (bytes: Uint8Array): Float32Array => dequantizeLegacy(bytes, q5_0, false, true);
export const dequantizeQ5_1 = (bytes: Uint8Array): Float32Array => dequantizeLegacy(bytes, q5_1, true, true);

/**
 * Where value v of a Q2_K or Q3_K block (256 values as two halves of 128) takes its 2 low bits and
 * scale: in half h, group j of 32 and its part p of 16, value l reads bits 2j of qs[32h + 16p + l]
 * under scale 8h + 2j + p. Q3_K's third bit is bit 4h + j of hmask[16p + l].
 */
export function forEachTwoBitValue(visit: (v: number, qsByte: number, shift: number, scale: number, hmaskByte: number, hmaskBit: number) => void): void {
  for (let h = 0; h < 2; h++) {
    for (let j = 0; j < 4; j++) {
      for (let p = 0; p < 2; p++) {
        for (let l = 0; l < 16; l++) visit(128 * h + 32 * j + 16 * p + l, 32 * h + 16 * p + l, 2 * j, 8 * h + 2 * j + p, 16 * p + l, 4 * h + j);
      }
    }
  }
}

export function dequantizeQ2_K(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, q2_K);
  const out = new Float32Array(blocks * 256);
  for (let b = 0; b < blocks; b++) {
    const at = b * 84;
    const d = half(bytes, at + 80);
    const dmin = half(bytes, at + 82);
    forEachTwoBitValue((v, qsByte, shift, scale) => {
      const sc = bytes[at + scale];
      out[b * 256 + v] = d * (sc & 0x0f) * ((bytes[at + 16 + qsByte] >> shift) & 3) - dmin * (sc >> 4);
    });
  }
  return out;
}

/**
 * Q3_K's 16 scales, 6 bits each, in 12 bytes: scale j's low 4 bits are the low nibble of byte j
 * (j < 8) or the high nibble of byte j - 8, and its top 2 bits are bits 2 * floor(j / 4) of byte
 * 8 + j % 4; stored offset by 32.
 */
export function q3KScale(bytes: Uint8Array, scalesAt: number, j: number): number {
  const low = j < 8 ? bytes[scalesAt + j] & 0x0f : bytes[scalesAt + j - 8] >> 4;
  const high = (bytes[scalesAt + 8 + (j % 4)] >> (2 * Math.floor(j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

export function dequantizeQ3_K(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, q3_K);
  const out = new Float32Array(blocks * 256);
  for (let b = 0; b < blocks; b++) {
    const at = b * 110;
    const d = half(bytes, at + 108);
    const scales = Array.from({ length: 16 }, (_, j) => d * q3KScale(bytes, at + 96, j));
    forEachTwoBitValue((v, qsByte, shift, scale, hmaskByte, hmaskBit) => {
      const low = (bytes[at + 32 + qsByte] >> shift) & 3;
      const high = (bytes[at + hmaskByte] >> hmaskBit) & 1;
      out[b * 256 + v] = scales[scale] * (low - (high ? 0 : 4));
    });
  }
  return out;
}

/** 32 values from 16 bytes of nibbles (Q4_0's order: low nibbles first, then high ones) on the IQ4 grid, times `scale`. */
function iq4Values(bytes: Uint8Array, qsAt: number, scale: number, out: Float32Array, y: number): void {
  for (let j = 0; j < 16; j++) {
    out[y + j] = scale * iq4Grid[bytes[qsAt + j] & 0x0f];
    out[y + j + 16] = scale * iq4Grid[bytes[qsAt + j] >> 4];
  }
}

export function dequantizeIQ4_NL(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, iq4_nl);
  const out = new Float32Array(blocks * 32);
  for (let b = 0; b < blocks; b++) iq4Values(bytes, b * 18 + 2, half(bytes, b * 18), out, b * 32);
  return out;
}

export function dequantizeIQ4_XS(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, iq4_xs);
  const out = new Float32Array(blocks * 256);
  for (let b = 0; b < blocks; b++) {
    const at = b * 136;
    const d = half(bytes, at);
    const scalesHigh = bytes[at + 2] | (bytes[at + 3] << 8);
    for (let s = 0; s < 8; s++) {
      const ls = ((bytes[at + 4 + (s >> 1)] >> (4 * (s & 1))) & 0x0f) | (((scalesHigh >> (2 * s)) & 3) << 4);
      iq4Values(bytes, at + 8 + 16 * s, d * (ls - 32), out, b * 256 + 32 * s);
    }
  }
  return out;
}

export function dequantizeQ6_K(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, q6_K);
  const out = new Float32Array(blocks * 256);
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const at = b * 210;
    const d = half(bytes, at + 208);
    // Two halves of 128 values; each reads 64 bytes of ql, 32 of qh and 8 scales.
    for (let h = 0; h < 2; h++) {
      const ql = at + h * 64;
      const qh = at + 128 + h * 32;
      const sc = at + 192 + h * 8;
      const y = b * 256 + h * 128;
      for (let l = 0; l < 32; l++) {
        const high = bytes[qh + l];
        const s = l >> 4;
        const q1 = ((bytes[ql + l] & 0x0f) | ((high & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32] & 0x0f) | (((high >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l] >> 4) | (((high >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32] >> 4) | (((high >> 6) & 3) << 4)) - 32;
        out[y + l] = d * signed[sc + s] * q1;
        out[y + l + 32] = d * signed[sc + s + 2] * q2;
        out[y + l + 64] = d * signed[sc + s + 4] * q3;
        out[y + l + 96] = d * signed[sc + s + 6] * q4;
      }
    }
  }
  return out;
}
