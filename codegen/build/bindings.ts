// Writes the kernel table the addon core registers (runtime/native/module.cc), and the .d.ts that
// types the addon for TypeScript callers.
import { banner } from "../emit/banner.ts";
import type { KernelIR } from "../ir/types.ts";

export function emitKernelTable(kernels: KernelIR[], target: "cpu" | "cuda"): string {
  const stream = target === "cuda" ? ", cudaStream_t" : "";
  return [
    banner("codegen/build/bindings.ts"),
    `#include "kernel_table.h"`,
    ``,
    ...kernels.map((k) => `extern "C" void ${k.symbol}(void* const*, const double*, const int64_t*${stream});`),
    ``,
    `extern "C" const tsv::KernelEntry tsv_kernel_table[] = {`,
    ...kernels.map((k) => `  {"${k.symbol}", &${k.symbol}},`),
    `  {nullptr, nullptr},`,
    `};`,
    `extern "C" const size_t tsv_kernel_count = ${kernels.length};`,
    ``,
  ].join("\n");
}

export function emitDeclarations(kernels: KernelIR[]): string {
  return [
    banner("codegen/build/bindings.ts"),
    `type Buffer = ArrayBufferView | ArrayBuffer;`,
    `export interface Kernels {`,
    ...kernels.map((k) => `  /** ${k.source.file}: ${k.params.map((p) => p.name).join(", ")} */\n  ${k.symbol}(buffers: Buffer[], scalars: number[], dims: number[]): void;`),
    `}`,
    `export interface Addon {`,
    `  kernels: Kernels;`,
    `  /** Seconds per launch, after a warm-up launch, buffers already in place. */`,
    `  timeKernel: Record<keyof Kernels, (buffers: Buffer[], scalars: number[], dims: number[], iterations: number) => number>;`,
    `  setNumThreads(n: number): void;`,
    `}`,
    ``,
  ].join("\n");
}
