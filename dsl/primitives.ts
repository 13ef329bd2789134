// The kernel language's built-ins. Each has JS semantics here (the reference interpreter runs the
// kernel function itself) and a codegen rule in codegen/emit/ and codegen/lower/.
import { f16BitsToF32 } from "./dtype.ts";
import { Scratch } from "./global.ts";

export type f32 = number;
export type i32 = number;
/** A compile-time constant: kernels are specialised (and their names mangled) on its value. */
export type Const = number;

const programIds: number[] = [0, 0, 0];

/** Used by the reference runner to say which program instance is executing. */
export function setProgramIds(ids: readonly number[]): void {
  for (let a = 0; a < 3; a++) programIds[a] = ids[a] ?? 0;
}

/** Index of this program instance along grid axis `axis` (Triton's program_id). */
export function pid(axis: 0 | 1 | 2): i32 {
  return programIds[axis];
}

/** Runs body(i) for i in [0, n): the iterations are independent and spread over the program's threads. */
export function forEach(n: i32, body: (i: i32) => void): void {
  for (let i = 0; i < n; i++) body(i);
}

/** Sum of term(i) over [0, n), in f32 (spread over threads, tree-reduced). */
export function reduceSum(n: i32, term: (i: i32) => f32): f32 {
  let s = 0;
  for (let i = 0; i < n; i++) s += term(i);
  return Math.fround(s);
}

/** Max of term(i) over [0, n); -Infinity for n = 0. */
export function reduceMax(n: i32, term: (i: i32) => f32): f32 {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, term(i));
  return m;
}

/** Min of term(i) over [0, n); +Infinity for n = 0. */
export function reduceMin(n: i32, term: (i: i32) => f32): f32 {
  let m = Infinity;
  for (let i = 0; i < n; i++) m = Math.min(m, term(i));
  return m;
}

/**
 * A register tile of dot products, accumulated into scratch: into[at + i * cols + j] += sum over
 * k < n of a(i, k) * b(j, k), for i < rows, j < cols (both compile-time). Every product shares the
 * k loop, so each a(i, k) and b(j, k) is read once per k for the whole tile. The CPU backend keeps
 * the tile in vector registers: along k when both operands are contiguous in k (dot products),
 * along j when b is contiguous in j (a broadcast times a row of b, the GEMM micro-kernel); the GPU
 * backend spreads k over threads and all-reduces each entry. `prefetchAhead`, a hint that leaves the
 * result unchanged, has the broadcast form prefetch b that many k steps ahead: the next chunk of a
 * weight stream arrives while the tile computes on this one.
 */
export function dotTile(into: Scratch, at: i32, rows: Const, cols: Const, n: i32, a: (i: i32, k: i32) => f32, b: (j: i32, k: i32) => f32, prefetchAhead?: i32): void {
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a(i, k) * b(j, k);
      into.put(at + i * cols + j, Math.fround(into.at(at + i * cols + j) + s));
    }
}

/** Per-program f32 scratch of a compile-time size. */
export function scratch(size: Const): Scratch {
  return new Scratch(size);
}

export const f32 = (x: number): f32 => Math.fround(x);
export const i32 = (x: number): i32 => Math.trunc(x) | 0;
export const exp = (x: f32): f32 => Math.fround(Math.exp(x));
export const log = (x: f32): f32 => Math.fround(Math.log(x));
export const sqrt = (x: f32): f32 => Math.fround(Math.sqrt(x));
export const rsqrt = (x: f32): f32 => Math.fround(1 / Math.sqrt(x));
export const tanh = (x: f32): f32 => Math.fround(Math.tanh(x));
export const sin = (x: f32): f32 => Math.fround(Math.sin(x));
export const cos = (x: f32): f32 => Math.fround(Math.cos(x));
export const pow = (x: f32, y: f32): f32 => Math.fround(Math.pow(x, y));
export const abs = (x: number): number => Math.abs(x);
export const floor = (x: f32): f32 => Math.floor(x);
export const max = (a: number, b: number): number => Math.max(a, b);
export const min = (a: number, b: number): number => Math.min(a, b);
/** The low byte of x read as a two's-complement int8 (GGUF's signed quants stored in a u8 view). */
export const i8 = (x: i32): i32 => (x << 24) >> 24;
/** The f32 value of IEEE half bits (the low 16 bits of x), e.g. a GGUF block scale read as two bytes. */
export const f16FromBits = (bits: i32): f32 => f16BitsToF32(bits & 0xffff);
const keyBits = new DataView(new ArrayBuffer(4));
/**
 * An i32 that orders as the float does (floatKey(a) < floatKey(b) when a < b; -0 just below +0):
 * its IEEE bits, with the magnitude bits of negatives flipped. A search over these keys finds an
 * exact float threshold (a k-th largest value) in 32 halvings, whatever the values' scale.
 */
export const floatKey = (x: f32): i32 => {
  keyBits.setFloat32(0, x);
  const bits = keyBits.getInt32(0);
  return bits >= 0 ? bits : bits ^ 0x7fffffff;
};
/** Ceiling division for sizes: cdiv(10, 4) = 3. */
export const cdiv = (a: i32, b: i32): i32 => Math.ceil(a / b);
/** Integer division truncating toward zero, as C does (plain `/` on i32 is rejected by the compiler). */
export const idiv = (a: i32, b: i32): i32 => Math.trunc(a / b);
