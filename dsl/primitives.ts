// The kernel language's built-ins. Each has JS semantics here (the reference interpreter runs the
// kernel function itself) and a codegen rule in codegen/emit/ and codegen/lower/.
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
/** Ceiling division for sizes: cdiv(10, 4) = 3. */
export const cdiv = (a: i32, b: i32): i32 => Math.ceil(a / b);
/** Integer division truncating toward zero, as C does (plain `/` on i32 is rejected by the compiler). */
export const idiv = (a: i32, b: i32): i32 => Math.trunc(a / b);
