// The CUDA emitter: prints the thread-level IR (codegen/lower) as a __global__ kernel plus a host
// launcher with the uniform launch ABI. One program = one thread block; reductions are warp
// shuffles then a shared-memory pass over warps, in a fixed order the emulator reproduces.
import { banner } from "./banner.ts";
import { vectorizedFor } from "./cuda-vector-loads.ts";
import { cType, dimName, ExprPrinter, pointerType, sharedMath, unpackArguments, type Dialect } from "./c-expr.ts";
import type { IExpr } from "../ir/types.ts";
import { mmaAccumulators, type MmaOperandType, type MmaTiling, type TStmt, type ThreadKernel } from "../lower/thread-ir.ts";

// The grid is launched flattened on blockIdx.x (up to 2^31 - 1 blocks): y and z are capped at
// 65535, which a vocabulary-sized axis (lm_head over 128k rows) exceeds. Each program recovers its
// ids from the flat index.
const cudaDialect: Dialect = {
  math: { ...sharedMath, rsqrt: (a) => `rsqrtf(${a[0]})` },
  pid: (axis) => `tsv_pid${axis}`,
  reduce: () => {
    throw new Error("reductions are hoisted by lowerToThreads before CUDA emission");
  },
};

export function emitCudaKernel(tk: ThreadKernel): string {
  const { ir } = tk;
  const p = new ExprPrinter(ir, cudaDialect);
  const params: string[] = [];
  for (const q of ir.params) {
    if (q.kind === "global") {
      params.push(`${q.written ? "" : "const "}${pointerType(q)}* ${q.name}`);
      q.dims.forEach((_, axis) => params.push(`int64_t ${dimName(q.name, axis)}`));
    } else if (q.kind === "scalar") params.push(`${cType[q.type]} ${q.name}`);
  }
  params.push("int64_t tsv_g0", "int64_t tsv_g1");
  const args = [...ir.params.flatMap((q) => (q.kind === "global" ? [q.name, ...q.dims.map((_, a) => dimName(q.name, a))] : q.kind === "scalar" ? [q.name] : [])), "tsv_g0", "tsv_g1"];
  const grid = [0, 1, 2].map((a) => (ir.grid[a] ? p.print(ir.grid[a]) : "1"));
  return [
    banner(`${ir.source.file} (${ir.source.exportName})`),
    `#include "tsvllm_cuda.cuh"`,
    ``,
    `__global__ void __launch_bounds__(${ir.threads}) ${ir.symbol}_kernel(${params.join(", ")}) {`,
    ...(usesBlockReduce(tk.body) ? [`  __shared__ float tsv_red[32];`] : []),
    ...Object.entries(tk.scratch).map(([name, size]) => `  __shared__ float ${name}[${size}];`),
    ...Object.entries(tk.mmaStaging).map(([name, h]) => `  __shared__ __align__(16) ${h.type === "fp8e4m3" ? "uint8_t" : "uint16_t"} ${name}[${h.size}];`),
    `  const int64_t tsv_block = (int64_t)blockIdx.x;`,
    `  [[maybe_unused]] const int tsv_pid0 = (int)(tsv_block % tsv_g0);`,
    `  [[maybe_unused]] const int tsv_pid1 = (int)((tsv_block / tsv_g0) % tsv_g1);`,
    `  [[maybe_unused]] const int tsv_pid2 = (int)(tsv_block / (tsv_g0 * tsv_g1));`,
    ...tk.body.flatMap((s) => stmt(s, p, "  ", tk)),
    `}`,
    ``,
    `extern "C" void ${ir.symbol}(void* const* ptrs, const double* scalars, const int64_t* dims, cudaStream_t stream) {`,
    ...unpackArguments(ir).map((l) => `  ${l}`),
    `  (void)ptrs; (void)scalars; (void)dims;`,
    `  const int64_t tsv_g0 = ${grid[0]}, tsv_g1 = ${grid[1]}, tsv_g2 = ${grid[2]};`,
    `  const int64_t tsv_blocks = tsv_g0 * tsv_g1 * tsv_g2;`,
    `  if (tsv_blocks <= 0) return;`,
    `  ${ir.symbol}_kernel<<<(unsigned)tsv_blocks, ${ir.threads}, 0, stream>>>(${args.join(", ")});`,
    `}`,
    ``,
  ].join("\n");
}

/** Template arguments of the prelude's warp-tiled mma routines. */
const mmaShape = (t: MmaTiling) => `${t.warpRows}, ${t.warpCols}, ${t.warpsN}`;
const mmaOperand: Record<MmaOperandType, string> = { f16: "TsvMmaF16", bf16: "TsvMmaBf16", fp8e4m3: "TsvMmaE4m3" };

function stmt(s: TStmt, p: ExprPrinter, ind: string, tk: ThreadKernel): string[] {
  const block = (xs: TStmt[]) => xs.flatMap((x) => stmt(x, p, ind + "  ", tk));
  const staging = tk.mmaStaging;
  const e = (x: IExpr) => p.print(x);
  switch (s.op) {
    case "decl": return [`${ind}${cType[s.type]} ${s.name} = ${e(s.init)};`];
    case "assign": return [`${ind}${s.name} = ${e(s.value)};`];
    case "store": return [`${ind}${s.global}[${p.offset(s.global, s.indices)}] = ${p.storeValue(s.global, e(s.value))};`];
    case "scratchStore": {
      const staged = staging[s.scratch];
      const value = s.value;
      // A raw store copies the stored bits: a load printed without its widening, or the vector
      // element cuda-vector-loads put in its place.
      if (staged && s.raw) return [`${ind}${s.scratch}[${e(s.index)}] = ${value.op === "load" ? `${value.global}[${p.offset(value.global, value.indices)}]` : e(value)};`];
      return [`${ind}${s.scratch}[${e(s.index)}] = ${staged ? `tsv_f32_to_${staged.type}(${e(value)})` : e(value)};`];
    }
    case "for": {
      const loop = (l: typeof s, at: string) => [`${at}for (int ${l.index} = ${e(l.start)}; ${l.index} < ${e(l.end)}; ${l.index} += ${e(l.step)}) {`, ...l.body.flatMap((x) => stmt(x, p, at + "  ", tk)), `${at}}`];
      return vectorizedFor(s, p, ind, loop) ?? loop(s, ind);
    }
    case "if": return [`${ind}if (${e(s.cond)}) {`, ...block(s.then), ...(s.else.length ? [`${ind}} else {`, ...block(s.else)] : []), `${ind}}`];
    // Every launch uses the kernel's thread count, so the stride is a constant nvcc can unroll by.
    case "threadLoop": return [`${ind}for (int ${s.index} = (int)threadIdx.x; ${s.index} < ${e(s.count)}; ${s.index} += ${tk.ir.threads}) {`, ...block(s.body), `${ind}}`];
    case "blockReduce": return [`${ind}${s.name} = tsv_block_all_reduce_${s.kind}(${s.name}, tsv_red);`];
    case "barrier": return [`${ind}__syncthreads();`];
    case "leader": return [`${ind}if (threadIdx.x == 0) {`, ...block(s.body), `${ind}}`];
    case "mmaZero": return [`${ind}float ${s.acc}[${mmaAccumulators(s.tiling)}];`, `${ind}tsv_mma_zero<${mmaAccumulators(s.tiling)}>(${s.acc});`];
    case "mma": return [`${ind}tsv_warp_mma<${mmaShape(s.tiling)}, ${s.tiling.kSteps}, ${s.tiling.stride}, ${mmaOperand[s.tiling.type]}>(${s.acc}, ${s.a}, ${s.b});`];
    case "mmaStore": return [`${ind}tsv_warp_mma_store<${mmaShape(s.tiling)}>(${s.acc}, &${s.scratch}[${e(s.at)}], ${s.tiling.cols});`];
  }
}

function usesBlockReduce(stmts: TStmt[]): boolean {
  return stmts.some((s) => {
    if (s.op === "blockReduce") return true;
    if (s.op === "for" || s.op === "threadLoop" || s.op === "leader") return usesBlockReduce(s.body);
    if (s.op === "if") return usesBlockReduce(s.then) || usesBlockReduce(s.else);
    return false;
  });
}
