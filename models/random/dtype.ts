// Checkpoint dtypes of the random models and their bit-exact conversions from f32.
//
// Values are drawn in f32 and rounded once to the checkpoint dtype (round to nearest even, as torch
// does); both files then carry exactly those rounded values, so the HF checkpoint and the GGUF hold
// the same weights whatever container dtype each uses. Both formats are little-endian.

import { endianness } from "node:os";

export type WeightDType = "f32" | "f16" | "bf16";

export const weightDTypes: readonly WeightDType[] = ["f32", "f16", "bf16"];

export const bytesPerElement: Record<WeightDType, number> = { f32: 4, f16: 2, bf16: 2 };

if (endianness() !== "LE") throw new Error("the random model writers emit host-order typed arrays and need a little-endian host");

/** IEEE binary16 bits of the f32 with these bits, rounded to nearest even; overflow gives infinity. */
function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 112;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Subnormal half: the value is (1.mantissa) * 2^(exponent-127) = m * 2^-24.
    if (halfExponent < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    const halfway = 1 << (shift - 1);
    const remainder = full & ((1 << shift) - 1);
    let half = full >>> shift;
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

function decodeF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Every binary16 value as f32, so that converting a billion weights is a table lookup each. */
const f16Values = Float32Array.from({ length: 1 << 16 }, (_, h) => decodeF16(h));

export function f16BitsToF32(h: number): number {
  return f16Values[h];
}

const bitsOf = (values: Float32Array) => new Uint32Array(values.buffer, values.byteOffset, values.length);

/** Rounds every value in place to the nearest value the dtype can hold. */
export function roundToDType(values: Float32Array, dtype: WeightDType): void {
  const bits = bitsOf(values);
  if (dtype === "f16") {
    for (let i = 0; i < bits.length; i++) values[i] = f16Values[f32BitsToF16Bits(bits[i])];
  } else if (dtype === "bf16") {
    // bf16 is the top half of an f32; the draws are finite, so no NaN case.
    for (let i = 0; i < bits.length; i++) bits[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) & 0xffff0000;
  }
}

/** Little-endian bytes of values, which must already be representable in dtype. */
export function encodeValues(values: Float32Array, dtype: WeightDType): Uint8Array {
  if (dtype === "f32") return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  const bits = bitsOf(values);
  if (dtype === "f16") {
    for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  } else {
    for (let i = 0; i < bits.length; i++) out[i] = bits[i] >>> 16;
  }
  return new Uint8Array(out.buffer);
}
