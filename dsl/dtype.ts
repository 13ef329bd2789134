// DType objects: what a tensor element is, how many bytes it takes, and how each backend spells it.
// Every float kind computes in f32; storage kinds round on store (JS semantics below match the C++
// and CUDA conversions, round-to-nearest-even).

export type DTypeName = "f32" | "f16" | "bf16" | "i32" | "u8" | "i8" | "int4" | "fp8e4m3" | "fp8e5m2";
export type Float = "f32" | "f16" | "bf16";

export interface DType {
  readonly name: DTypeName;
  /** Bytes per element; packed int4 is 0.5. */
  readonly bytes: number;
  readonly isFloat: boolean;
  /** The C/C++/CUDA type used for storage. */
  readonly storageType: string;
  /** Rounds an f32 value to what this dtype can hold (identity for f32). */
  readonly round: (v: number) => number;
}

const f32Buffer = new Float32Array(1);
const u32View = new Uint32Array(f32Buffer.buffer);

/** f32 -> bf16 bits, round to nearest even (NaN kept quiet). */
export function f32ToBf16Bits(v: number): number {
  f32Buffer[0] = v;
  const bits = u32View[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32View[0] = h << 16;
  return f32Buffer[0];
}

/** f32 -> IEEE half bits, round to nearest even, with subnormals and overflow to infinity. */
export function f32ToF16Bits(v: number): number {
  f32Buffer[0] = v;
  const x = u32View[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return sign | h;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** An OCP fp8 format: mantissa bits, exponent bias, largest finite value (where rounding saturates) and the code a NaN takes. */
interface Fp8Format {
  mantissa: number;
  bias: number;
  max: number;
  nanBits: number;
}

/** e4m3fn: no infinities, saturating at 448, 0x7f is NaN. */
const e4m3: Fp8Format = { mantissa: 3, bias: 7, max: 448, nanBits: 0x7f };
/** e5m2: saturating at 57344, as CUDA's __NV_SATFINITE (which vLLM's fp8_e5m2 cache uses); 0x7e is f16's NaN's top byte. */
const e5m2: Fp8Format = { mantissa: 2, bias: 15, max: 57344, nanBits: 0x7e };

/** v rounded to the format, to nearest even: subnormals below 2^(1 - bias) keep that binade's step. */
function fp8Round(f: Fp8Format, v: number): number {
  if (Number.isNaN(v)) return NaN;
  const a = Math.min(Math.abs(v), f.max);
  if (a === 0) return 0;
  const step = 2 ** (Math.max(Math.floor(Math.log2(a)), 1 - f.bias) - f.mantissa);
  return Math.sign(v) * Math.min(roundHalfEven(a / step) * step, f.max);
}

/** v's code in the format (as fp8Round rounds it). */
function f32ToFp8Bits(f: Fp8Format, v: number): number {
  if (Number.isNaN(v)) return f.nanBits;
  const sign = v < 0 || Object.is(v, -0) ? 0x80 : 0;
  const r = Math.abs(fp8Round(f, v));
  if (r < 2 ** (1 - f.bias)) return sign | (r * 2 ** (f.bias - 1 + f.mantissa));
  const exp = Math.floor(Math.log2(r));
  return sign | ((exp + f.bias) << f.mantissa) | ((r / 2 ** exp - 1) * 2 ** f.mantissa);
}

/** fp8 e4m3fn bits -> value: exponent bias 7, subnormals below 2^-6, 0x7f/0xff are NaN. */
export function fp8e4m3BitsToF32(bits: number): number {
  const sign = bits & 0x80 ? -1 : 1;
  const exp = (bits >> 3) & 0xf;
  const mant = bits & 7;
  if (exp === 0xf && mant === 7) return NaN;
  return exp === 0 ? sign * mant * 2 ** -9 : sign * (1 + mant / 8) * 2 ** (exp - 7);
}

/** value -> fp8 e4m3fn bits, rounding to nearest even and saturating at +-448. */
export const f32ToFp8e4m3Bits = (v: number): number => f32ToFp8Bits(e4m3, v);

/** fp8 e5m2 bits -> value: f16's top byte (exponent bias 15, subnormals below 2^-14, exponent 31 infinite or NaN). */
export function fp8e5m2BitsToF32(bits: number): number {
  return f16BitsToF32((bits & 0xff) << 8);
}

/** value -> fp8 e5m2 bits, rounding to nearest even and saturating at +-57344. */
export const f32ToFp8e5m2Bits = (v: number): number => f32ToFp8Bits(e5m2, v);

const identityInt = (v: number) => v | 0;

export const float32: DType = { name: "f32", bytes: 4, isFloat: true, storageType: "float", round: Math.fround };
export const float16: DType = { name: "f16", bytes: 2, isFloat: true, storageType: "uint16_t", round: (v) => f16BitsToF32(f32ToF16Bits(v)) };
export const bfloat16: DType = { name: "bf16", bytes: 2, isFloat: true, storageType: "uint16_t", round: (v) => bf16BitsToF32(f32ToBf16Bits(v)) };
export const int32: DType = { name: "i32", bytes: 4, isFloat: false, storageType: "int32_t", round: identityInt };
export const uint8: DType = { name: "u8", bytes: 1, isFloat: false, storageType: "uint8_t", round: (v) => v & 0xff };
export const int8: DType = { name: "i8", bytes: 1, isFloat: false, storageType: "int8_t", round: (v) => (v << 24) >> 24 };
export const packedInt4: DType = { name: "int4", bytes: 0.5, isFloat: false, storageType: "uint8_t", round: (v) => v & 0xf };
export const float8e4m3: DType = { name: "fp8e4m3", bytes: 1, isFloat: true, storageType: "uint8_t", round: (v) => fp8Round(e4m3, v) };
export const float8e5m2: DType = { name: "fp8e5m2", bytes: 1, isFloat: true, storageType: "uint8_t", round: (v) => fp8Round(e5m2, v) };

export const dtypes: Readonly<Record<DTypeName, DType>> = {
  f32: float32, f16: float16, bf16: bfloat16, i32: int32, u8: uint8, i8: int8, int4: packedInt4, fp8e4m3: float8e4m3, fp8e5m2: float8e5m2,
};

export function dtypeOf(name: string): DType | undefined {
  return (dtypes as Record<string, DType | undefined>)[name];
}
