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
//   MXFP4  17 B / 32 values: u8 e (an E8M0 exponent), u8 qs[16] (nibbles as Q4_0's);
//                            x = 2^(e - 128) * level[nibble], the levels E2M1's values doubled below
//                            (ggml-common.h block_mxfp4 and kvalues_mxfp4, ggml-quants.c
//                            dequantize_row_mxfp4, ggml-impl.h ggml_e8m0_to_fp32_half)
// Each layout's bit fields are read by one decoder of raw (unsigned) quants, shared by the
// dequantizers here and quant-groups.ts; each path applies its own offsets, scales and mins.
// Every format stays packed until the compiled model repacks each matrix: the CPU plan into
// quantized panels (quant-groups.ts), the GPU plan into f16 panels or, for Q8_0/Q4_0, not at all
// (its block kernels read them).
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
export const mxfp4: BlockFormat = { valuesPerBlock: 32, bytesPerBlock: 17 };

/** IQ4_NL's and IQ4_XS's 16 levels (ggml's kvalues_iq4nl), denser near zero where weights are. */
export const iq4Grid: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/**
 * MXFP4's 16 levels (ggml's kvalues_mxfp4): the E2M1 values 0, 0.5, 1, 1.5, 2, 3, 4, 6 doubled into
 * integers, the nibble's bit 3 their sign (nibble 8, E2M1's -0, reads as 0).
 */
export const mxfp4Levels: readonly number[] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/**
 * An MXFP4 block's scale from its E8M0 byte e: ggml's ggml_e8m0_to_fp32_half, half the E8M0 value
 * 2^(e - 127) to undo the levels' doubling. Every result is an exact f32, e 0 and 1 its subnormals.
 */
export const mxfp4Scale = (e: number): number => 2 ** (e - 128);

/** The f16 at bytes[at], little-endian, as a number. */
export function half(bytes: Uint8Array, at: number): number {
  return f16BitsToNumber(bytes[at] | (bytes[at + 1] << 8));
}

/** How many blocks of `format` the bytes hold; throws unless they are whole blocks. */
export function blockCount(bytes: Uint8Array, format: BlockFormat): number {
  if (bytes.byteLength % format.bytesPerBlock !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${format.bytesPerBlock}-byte blocks`);
  }
  return bytes.byteLength / format.bytesPerBlock;
}

/** Where decoders write raw quants: a dequantizer's scratch or a quant grouping's q. */
export type QuantSink = Uint8Array | Int8Array;

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

/**
 * 32 raw quants of Q4_0's order from 16 bytes of nibbles at qsAt: value j < 16 the low nibble of
 * byte j, value j + 16 its high nibble; value j's fifth bit is bit j of qh (0 for 4-bit formats).
 */
export function nibbleQuants(bytes: Uint8Array, qsAt: number, qh: number, raw: QuantSink, y: number): void {
  for (let j = 0; j < 16; j++) {
    const packed = bytes[qsAt + j];
    raw[y + j] = (packed & 0x0f) | (((qh >>> j) & 1) << 4);
    raw[y + j + 16] = (packed >> 4) | (((qh >>> (j + 16)) & 1) << 4);
  }
}

/** Where a 32-value block's fields lie after its f16 d: an f16 min m, a u32 of fifth bits qh, 16 bytes of nibbles. */
export interface LegacyLayout {
  format: BlockFormat;
  minAt: number | undefined;
  qhAt: number | undefined;
  qsAt: number;
}

export const legacyLayouts = {
  q4_0: { format: q4_0, minAt: undefined, qhAt: undefined, qsAt: 2 },
  q4_1: { format: q4_1, minAt: 2, qhAt: undefined, qsAt: 4 },
  q5_0: { format: q5_0, minAt: undefined, qhAt: 2, qsAt: 6 },
  q5_1: { format: q5_1, minAt: 2, qhAt: 4, qsAt: 8 },
  iq4_nl: { format: iq4_nl, minAt: undefined, qhAt: undefined, qsAt: 2 },
} as const satisfies Record<string, LegacyLayout>;

/** The 32 raw quants (0..15, or 0..31 with fifth bits) of the legacy block at `at`. */
export function legacyQuants(bytes: Uint8Array, at: number, layout: LegacyLayout, raw: QuantSink, y: number): void {
  const qhAt = layout.qhAt === undefined ? undefined : at + layout.qhAt;
  const qh = qhAt === undefined ? 0 : (bytes[qhAt] | (bytes[qhAt + 1] << 8) | (bytes[qhAt + 2] << 16) | (bytes[qhAt + 3] << 24)) >>> 0;
  nibbleQuants(bytes, at + layout.qsAt, qh, raw, y);
}

/**
 * Q4_0, Q4_1, Q5_0 and Q5_1: with a min m after d, x = d * q + m; without one, x = d * (q - 8)
 * (Q4_0) or d * (q - 16) (Q5_0), centring the 4- or 5-bit range on zero.
 */
function dequantizeLegacy(bytes: Uint8Array, layout: LegacyLayout): Float32Array {
  const blocks = blockCount(bytes, layout.format);
  const out = new Float32Array(blocks * 32);
  const raw = new Uint8Array(32);
  const centre = layout.qhAt === undefined ? 8 : 16;
  for (let b = 0; b < blocks; b++) {
    const at = b * layout.format.bytesPerBlock;
    const d = half(bytes, at);
    legacyQuants(bytes, at, layout, raw, 0);
    if (layout.minAt === undefined) {
      for (let j = 0; j < 32; j++) out[b * 32 + j] = d * (raw[j] - centre);
    } else {
      const m = half(bytes, at + layout.minAt);
      for (let j = 0; j < 32; j++) out[b * 32 + j] = d * raw[j] + m;
    }
  }
  return out;
}

export const dequantizeQ4_0 = (bytes: Uint8Array): Float32Array => dequantizeLegacy(bytes, legacyLayouts.q4_0);
export const dequantizeQ4_1 = (bytes: Uint8Array): Float32Array => dequantizeLegacy(bytes, legacyLayouts.q4_1);
export const dequantizeQ5_0 = (bytes: Uint8Array): Float32Array => dequantizeLegacy(bytes, legacyLayouts.q5_0);
export const dequantizeQ5_1 = (bytes: Uint8Array): Float32Array => dequantizeLegacy(bytes, legacyLayouts.q5_1);

// Q4_K packs eight 6-bit scales and eight 6-bit mins into 12 bytes: sub-blocks 0-3 use the low 6 bits
// of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 take 4 low bits from bytes 8-11 and their top
// 2 bits from the spare high bits of bytes 0-3 (scales) and 4-7 (mins).
export function q4KScaleMin(scales: Uint8Array, at: number, sub: number): [number, number] {
  if (sub < 4) return [scales[at + sub] & 63, scales[at + sub + 4] & 63];
  const low = scales[at + sub + 4];
  return [(low & 0x0f) | ((scales[at + sub - 4] >> 6) << 4), (low >> 4) | ((scales[at + sub] >> 6) << 4)];
}

/**
 * The 256 raw quants of a Q4_K or Q5_K block: each 32 bytes of qs hold two sub-blocks of 32, low
 * nibbles first, then high nibbles. Q5_K adds a fifth bit per value from qh (32 bytes before qs):
 * value l of pair p's low sub-block takes bit 2p of qh[l], of its high one bit 2p + 1.
 */
export function kQuants(bytes: Uint8Array, at: number, fifthBits: boolean, raw: QuantSink, y: number): void {
  const qhAt = at + 16;
  const qsAt = at + (fifthBits ? 48 : 16);
  for (let pair = 0; pair < 4; pair++) {
    for (let l = 0; l < 32; l++) {
      const packed = bytes[qsAt + pair * 32 + l];
      const high = fifthBits ? bytes[qhAt + l] >> (2 * pair) : 0;
      raw[y + pair * 64 + l] = (packed & 0x0f) | ((high & 1) << 4);
      raw[y + pair * 64 + 32 + l] = (packed >> 4) | (((high >> 1) & 1) << 4);
    }
  }
}

/** Q4_K and Q5_K: eight sub-blocks of 32, each x = d * scale * q - dmin * min with its 6-bit pair. */
function dequantizeQ4OrQ5K(bytes: Uint8Array, format: BlockFormat, fifthBits: boolean): Float32Array {
  const blocks = blockCount(bytes, format);
  const out = new Float32Array(blocks * 256);
  const raw = new Uint8Array(256);
  for (let b = 0; b < blocks; b++) {
    const at = b * format.bytesPerBlock;
    const d = half(bytes, at);
    const dmin = half(bytes, at + 2);
    kQuants(bytes, at, fifthBits, raw, 0);
    for (let s = 0; s < 8; s++) {
      const [scale, min] = q4KScaleMin(bytes, at + 4, s);
      for (let l = 0; l < 32; l++) out[b * 256 + 32 * s + l] = d * scale * raw[32 * s + l] - dmin * min;
    }
  }
  return out;
}

export const dequantizeQ4_K = (bytes: Uint8Array): Float32Array => dequantizeQ4OrQ5K(bytes, q4_K, false);
export const dequantizeQ5_K = (bytes: Uint8Array): Float32Array => dequantizeQ4OrQ5K(bytes, q5_K, true);

/**
 * Where value v of a Q2_K or Q3_K block (256 values as two halves of 128) takes its 2 low bits and
 * scale: in half h, group j of 32 and its part p of 16, value l reads bits 2j of qs[32h + 16p + l]
 * under scale 8h + 2j + p (= v / 16). Q3_K's third bit is bit 4h + j of hmask[16p + l].
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

/**
 * The 256 raw quants of a Q2_K block (qs at qsAt, hmaskAt undefined: 0..3) or Q3_K block (the
 * hmask bit as bit 2: 0..7, the signed q3 plus 4).
 */
export function twoBitQuants(bytes: Uint8Array, qsAt: number, hmaskAt: number | undefined, raw: QuantSink, y: number): void {
  forEachTwoBitValue((v, qsByte, shift, _scale, hmaskByte, hmaskBit) => {
    const high = hmaskAt === undefined ? 0 : (bytes[hmaskAt + hmaskByte] >> hmaskBit) & 1;
    raw[y + v] = ((bytes[qsAt + qsByte] >> shift) & 3) | (high << 2);
  });
}

/** Q2_K's scale and min of sub-block s: the low and high nibble of scales[s] (the block's first 16 bytes). */
export function q2KScaleMin(bytes: Uint8Array, at: number, s: number): [number, number] {
  return [bytes[at + s] & 0x0f, bytes[at + s] >> 4];
}

export function dequantizeQ2_K(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, q2_K);
  const out = new Float32Array(blocks * 256);
  const raw = new Uint8Array(256);
  for (let b = 0; b < blocks; b++) {
    const at = b * 84;
    const d = half(bytes, at + 80);
    const dmin = half(bytes, at + 82);
    twoBitQuants(bytes, at + 16, undefined, raw, 0);
    for (let s = 0; s < 16; s++) {
      const [scale, min] = q2KScaleMin(bytes, at, s);
      for (let l = 0; l < 16; l++) out[b * 256 + 16 * s + l] = d * scale * raw[16 * s + l] - dmin * min;
    }
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
  const raw = new Uint8Array(256);
  for (let b = 0; b < blocks; b++) {
    const at = b * 110;
    const d = half(bytes, at + 108);
    twoBitQuants(bytes, at + 32, at, raw, 0);
    for (let s = 0; s < 16; s++) {
      const scale = d * q3KScale(bytes, at + 96, s);
      for (let l = 0; l < 16; l++) out[b * 256 + 16 * s + l] = scale * (raw[16 * s + l] - 4);
    }
  }
  return out;
}

/** 32 values of level indices raw[0..32) (IQ4's grid, MXFP4's levels) times `scale`. */
function levelValues(raw: Uint8Array, levels: readonly number[], scale: number, out: Float32Array, y: number): void {
  for (let j = 0; j < 32; j++) out[y + j] = scale * levels[raw[j]];
}

export function dequantizeIQ4_NL(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, iq4_nl);
  const out = new Float32Array(blocks * 32);
  const raw = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    legacyQuants(bytes, b * 18, legacyLayouts.iq4_nl, raw, 0);
    levelValues(raw, iq4Grid, half(bytes, b * 18), out, b * 32);
  }
  return out;
}

/** IQ4_XS's signed scale of sub-block s: its 6-bit ls (low 4 bits from scales_l, top 2 from scales_h) less 32. */
export function iq4XsScale(bytes: Uint8Array, at: number, s: number): number {
  const scalesHigh = bytes[at + 2] | (bytes[at + 3] << 8);
  return (((bytes[at + 4 + (s >> 1)] >> (4 * (s & 1))) & 0x0f) | (((scalesHigh >> (2 * s)) & 3) << 4)) - 32;
}

export function dequantizeIQ4_XS(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, iq4_xs);
  const out = new Float32Array(blocks * 256);
  const raw = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    const at = b * 136;
    const d = half(bytes, at);
    for (let s = 0; s < 8; s++) {
      nibbleQuants(bytes, at + 8 + 16 * s, 0, raw, 0);
      levelValues(raw, iq4Grid, d * iq4XsScale(bytes, at, s), out, b * 256 + 32 * s);
    }
  }
  return out;
}

export function dequantizeMXFP4(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, mxfp4);
  const out = new Float32Array(blocks * 32);
  const raw = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    nibbleQuants(bytes, b * 17 + 1, 0, raw, 0);
    levelValues(raw, mxfp4Levels, mxfp4Scale(bytes[b * 17]), out, b * 32);
  }
  return out;
}

/**
 * The 256 raw quants (0..63) of a Q6_K block: two halves of 128, each reading 64 bytes of ql (low
 * 4 bits) and 32 of qh (high 2 bits); value l + 32i of a half takes the low (i = 0, 1) or high
 * (i = 2, 3) nibble of ql[l + 32 (i % 2)] and bits 2i of qh[l].
 */
export function q6KQuants(bytes: Uint8Array, at: number, raw: QuantSink, y: number): void {
  for (let h = 0; h < 2; h++) {
    const ql = at + h * 64;
    const qh = at + 128 + h * 32;
    const z = y + h * 128;
    for (let l = 0; l < 32; l++) {
      const high = bytes[qh + l];
      raw[z + l] = (bytes[ql + l] & 0x0f) | ((high & 3) << 4);
      raw[z + l + 32] = (bytes[ql + l + 32] & 0x0f) | (((high >> 2) & 3) << 4);
      raw[z + l + 64] = (bytes[ql + l] >> 4) | (((high >> 4) & 3) << 4);
      raw[z + l + 96] = (bytes[ql + l + 32] >> 4) | (((high >> 6) & 3) << 4);
    }
  }
}

/** Q6_K: sixteen sub-blocks of 16, x = d * scale * (q6 - 32) with scale the sub-block's int8 (bytes 192-207). */
export function dequantizeQ6_K(bytes: Uint8Array): Float32Array {
  const blocks = blockCount(bytes, q6_K);
  const out = new Float32Array(blocks * 256);
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw = new Uint8Array(256);
  for (let b = 0; b < blocks; b++) {
    const at = b * 210;
    const d = half(bytes, at + 208);
    q6KQuants(bytes, at, raw, 0);
    for (let s = 0; s < 16; s++) {
      const scale = signed[at + 192 + s];
      for (let l = 0; l < 16; l++) out[b * 256 + 16 * s + l] = d * scale * (raw[16 * s + l] - 32);
    }
  }
  return out;
}
