// Global<D, S>: a view of a tensor in memory as kernels see it: row-major, contiguous, typed by
// element dtype D and named dims S. In JS (the reference interpreter) it holds f32/i32 values;
// stores round to D so the reference sees exactly what the compiled kernel stores.
import { dtypes, type DType, type DTypeName } from "./dtype.ts";

export type Shape = readonly string[];
export type Index<S extends Shape> = { [K in keyof S]: number };

/** A dim named by a number ("16") has that size in every specialisation; other names are symbolic. */
export function literalDimSize(name: string): number | undefined {
  return /^[1-9][0-9]*$/.test(name) ? Number(name) : undefined;
}

/** The size a specialisation fixes for a dim: a Const's value, or the number the dim is named by. */
export function fixedDimSize(name: string, consts: Readonly<Record<string, number>>): number | undefined {
  return name in consts ? consts[name] : literalDimSize(name);
}

export class Global<D extends DTypeName = DTypeName, S extends Shape = Shape> {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
  /** Phantom: the named dims, for the type checker only. */
  declare readonly dims: S;
  declare readonly dtypeName: D;

  constructor(dtype: D, shape: readonly number[], data?: Float32Array | Int32Array) {
    this.dtype = dtypes[dtype];
    this.shape = shape;
    const size = shape.reduce((a, b) => a * b, 1);
    this.data = data ?? (this.dtype.isFloat ? new Float32Array(size) : new Int32Array(size));
    if (this.data.length !== size) throw new RangeError(`Global ${dtype}[${shape.join(",")}] needs ${size} elements, got ${this.data.length}`);
  }

  dim(axis: number): number {
    return this.shape[axis];
  }

  private offset(idx: readonly number[]): number {
    let o = 0;
    for (let k = 0; k < this.shape.length; k++) {
      const i = idx[k];
      if (i < 0 || i >= this.shape[k] || !Number.isInteger(i)) throw new RangeError(`index ${i} out of range for dim ${k} (size ${this.shape[k]})`);
      o = o * this.shape[k] + i;
    }
    return o;
  }

  at(...idx: Index<S>): number {
    return this.data[this.offset(idx as readonly number[])];
  }

  /**
   * A hint that the element (and its cache line) will be read soon: the C++ backend prefetches it,
   * the GPU lowering drops it. It changes no value, so here it only checks the index.
   */
  prefetch(...idx: Index<S>): void {
    this.offset(idx as readonly number[]);
  }

  /** put(i, j, ..., value): stores value, rounded to the dtype. */
  put(...idxAndValue: [...Index<S>, number]): void {
    const value = idxAndValue[idxAndValue.length - 1] as number;
    this.data[this.offset(idxAndValue.slice(0, -1) as number[])] = this.dtype.round(value);
  }
}

/** Per-program scratch memory (CUDA: shared memory; C++: a stack array), f32 elements. */
export class Scratch {
  readonly data: Float32Array;
  constructor(size: number) {
    this.data = new Float32Array(size);
  }
  at(i: number): number {
    return this.data[i];
  }
  put(i: number, value: number): void {
    this.data[i] = value;
  }
}
