// kernel(options)(function name(...) {...}) declares a kernel. The function is both the reference
// (it runs as plain JS over the grid) and the source the compiler parses with ts-morph.
import { Global } from "./global.ts";
import { setProgramIds } from "./primitives.ts";

export type KernelArg = Global | number;

/**
 * A kernel argument as grid and work functions see it: the dims of a Global, or the value of a
 * Const (a tile size). One type for both, because TypeScript cannot flow the kernel's parameter
 * types back into the first call of kernel(options)(fn).
 */
export type GridArg = Global & number;

export interface KernelOptions {
  /**
   * The launch grid (1-3 axes) from the kernel's positional arguments; the compiler parses this arrow
   * function too. Grids read dims of global arguments and the values of Const ones.
   */
  grid: (...args: GridArg[]) => number[];
  /** Threads per program on GPU backends (a multiple of 32). */
  threads?: number;
  /**
   * Factors whose product approximates the scalar operations of one launch (parsed like grid).
   * The CPU backend runs a launch below a threshold on the calling thread, because waking a
   * sleeping pool worker costs tens of microseconds. Without it, the compiler estimates work from
   * the kernel body's constant loop counts, which misjudges kernels whose tiles are mostly idle at
   * small sizes (a matmul at decode) or whose loops run over the context.
   */
  work?: (...args: GridArg[]) => number[];
}

export interface KernelDef<A extends unknown[] = unknown[]> {
  readonly name: string;
  readonly fn: (...args: A) => void;
  readonly options: KernelOptions;
  /** Runs the kernel in JS over its whole grid: the living specification. */
  reference(...args: A): void;
}

export function kernel(options: KernelOptions) {
  return <A extends unknown[]>(fn: (...args: A) => void): KernelDef<A> => ({
    name: fn.name,
    fn,
    options,
    reference(...args: A): void {
      const grid = options.grid(...(args as unknown as GridArg[]));
      const [g0, g1, g2] = [grid[0] ?? 1, grid[1] ?? 1, grid[2] ?? 1];
      for (let z = 0; z < g2; z++)
        for (let y = 0; y < g1; y++)
          for (let x = 0; x < g0; x++) {
            setProgramIds([x, y, z]);
            fn(...args);
          }
      setProgramIds([0, 0, 0]);
    },
  });
}
