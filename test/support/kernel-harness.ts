// Runs a kernel three ways and compares: the DSL function itself in JS (the reference), the
// compiled C++ in the addon, and the CUDA-lowered thread IR in the emulator. Tolerances are per
// storage dtype: results may differ by f32 rounding in the compute and one rounding at the store.
import * as assert from "uvu/assert";
import { buildAddon, loadAddon } from "../../codegen/build/addon.ts";
import type { CpuVectors } from "../../codegen/build/cmake.ts";
import { launch, type NativeKernel } from "../../codegen/build/launch.ts";
import { compileKernel } from "../../codegen/compile.ts";
import type { Specialization } from "../../codegen/ir/specialize.ts";
import type { KernelIR } from "../../codegen/ir/types.ts";
import { emulate } from "../../codegen/lower/emulator.ts";
import { lowerToThreads } from "../../codegen/lower/threads.ts";
import type { DTypeName } from "../../dsl/dtype.ts";
import { Global } from "../../dsl/global.ts";
import { cloneArgs } from "./kernel-args.ts";
import type { PackingAddon } from "../../runtime/model/weights.ts";

export { cloneArgs, randomGlobal, type Args } from "./kernel-args.ts";
import type { Args } from "./kernel-args.ts";

/** Absolute + relative tolerance for values stored in each dtype. */
export const tolerance: Record<"f32" | "f16" | "bf16", { abs: number; rel: number }> = {
  f32: { abs: 1e-5, rel: 1e-4 },
  f16: { abs: 2e-3, rel: 2e-3 },
  bf16: { abs: 1.6e-2, rel: 1.6e-2 },
};

export interface KernelSpec {
  file: string;
  exportName: string;
  spec: Specialization;
}

/** Compiles every specialisation a test file needs into one addon (cached by content hash). */
/** The runtime services every addon exports beside its kernels, as tests use them. */
export interface RuntimeServices extends PackingAddon {
  /** The CPU threads kernels run on; 0 restores the default (every core). */
  setNumThreads(n: number): void;
}

export function buildKernels(name: string, specs: KernelSpec[], cpuVectors: CpuVectors = "native"): { irs: KernelIR[]; native: (ir: KernelIR) => NativeKernel; services: RuntimeServices } {
  const irs = specs.map((s) => compileKernel(s.file, s.exportName, s.spec));
  const built = buildAddon({ name, kernels: irs, cpuVectors });
  const addon = loadAddon<{ kernels: Record<string, NativeKernel> } & RuntimeServices>(built.path);
  return { irs, native: (ir) => addon.kernels[ir.symbol], services: addon };
}

/** out[t, n] = sum_k x[t, k] * weight(n, k) (+ bias(n)) in float64, stored as `dtype`: the independent matmul oracle. */
export function float64Matmul(x: Global, N: number, weight: (n: number, k: number) => number, dtype: DTypeName, bias?: (n: number) => number): Global {
  const [T, K] = x.shape;
  const out = new Global(dtype, [T, N]);
  for (let t = 0; t < T; t++)
    for (let n = 0; n < N; n++) {
      let s = bias ? bias(n) : 0;
      for (let k = 0; k < K; k++) s += x.at(t, k) * weight(n, k);
      out.put(t, n, s);
    }
  return out;
}

export function assertClose(actual: Global, expected: Global, tol: { abs: number; rel: number }, what: string): void {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i];
    const a = actual.data[i];
    if (a === e) continue;
    const err = Math.abs(a - e) - tol.rel * Math.abs(e);
    if (!(err <= tol.abs) && !(Number.isNaN(a) && Number.isNaN(e))) {
      if (!(err <= worst)) {
        worst = err;
        at = i;
      }
    }
  }
  if (at >= 0) assert.unreachable(`${what}: element ${at} is ${actual.data[at]}, expected ${expected.data[at]} (tolerance abs ${tol.abs} + rel ${tol.rel})`);
}

/** Runs a kernel's DSL reference on untyped test arguments (the harness builds Globals at run time). */
export function runReference(def: { reference: (...args: never[]) => void }, args: Args): void {
  (def.reference as (...a: Args) => void)(...args);
}

/** Runs reference, native and (optionally) emulated versions and compares every written output. */
export function checkAgainstReference(def: { reference: (...args: never[]) => void }, ir: KernelIR, native: NativeKernel, args: Args, tol: { abs: number; rel: number }, options: { emulate?: boolean; label?: string } = {}): void {
  const label = options.label ?? ir.symbol;
  const expected = cloneArgs(args);
  runReference(def, expected);
  const outputs = ir.params.map((p, i) => (p.kind === "global" && p.written ? i : -1)).filter((i) => i >= 0);
  const actual = cloneArgs(args);
  launch(native, ir, actual);
  for (const i of outputs) assertClose(actual[i] as Global, expected[i] as Global, tol, `${label} cpu ${ir.params[i].name}`);
  if (options.emulate) {
    const emulated = cloneArgs(args);
    emulate(lowerToThreads(ir), emulated, { threads: 64 });
    for (const i of outputs) assertClose(emulated[i] as Global, expected[i] as Global, tol, `${label} emulated-cuda ${ir.params[i].name}`);
  }
}
