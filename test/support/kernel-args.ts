// Kernel arguments for tests and the GPU check: deterministic random tensors and deep copies.
// Kept free of compiler imports so the GPU check's bundle stays small.
import type { DTypeName } from "../../dsl/dtype.ts";
import { Global } from "../../dsl/global.ts";

export type Args = (Global | number)[];

export function cloneArgs(args: Args): Args {
  return args.map((a) => (a instanceof Global ? new Global(a.dtype.name, a.shape, a.data.slice()) : a));
}

let seed = 12345;
/** Deterministic uniform values in [-scale, scale), rounded to the dtype. */
export function randomGlobal(dtype: DTypeName, shape: number[], scale = 1): Global {
  const g = new Global(dtype, shape);
  for (let i = 0; i < g.data.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    g.data[i] = g.dtype.round(((seed / 2 ** 32) * 2 - 1) * scale);
  }
  return g;
}

