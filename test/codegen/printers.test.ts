// Snapshot-style checks of the IR printer and the CUDA emitter on small kernels: the expected lines
// are written by hand from the kernel's source, so a change in lowering shows up as a readable diff.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { compileKernel } from "../../codegen/compile.ts";
import { emitCppKernel } from "../../codegen/emit/cpp.ts";
import { emitCudaKernel } from "../../codegen/emit/cuda.ts";
import { printKernel } from "../../codegen/ir/print.ts";
import { lowerToThreads } from "../../codegen/lower/threads.ts";
import { Global } from "../../dsl/global.ts";
import { copyPrefetchingNext } from "../fixtures/prefetch-rows.ts";

test("the IR printer shows the specialised reverse-scratch kernel line by line", () => {
  const ir = compileKernel("test/fixtures/reverse-scratch.ts", "reverseThroughScratch", { dtypes: {}, consts: { D: 64 } });
  assert.fixture(printKernel(ir), [
    "kernel reverseThroughScratch__D64(x: f32[T, D], out: f32[T, D] out, D: const) grid [x.dim0] threads 64",
    "  t: i32 = pid.0",
    "  scratch buf[64]",
    "  forEach i < 64:",
    "    buf[i] <- (x[t, i] * 2f)",
    "  forEach i < 64:",
    "    out[t, i] <- buf[(63 - i)]",
  ].join("\n"));
});

test("prefetch: an IR statement the C++ backend emits as a cache hint and the GPU lowering drops; the reference checks its index", () => {
  const ir = compileKernel("test/fixtures/prefetch-rows.ts", "copyPrefetchingNext", { dtypes: {}, consts: { D: 64 } });
  assert.ok(printKernel(ir).split("\n").includes("    prefetch x[(t + 1), 0]"), printKernel(ir));
  const cpp = emitCppKernel(ir);
  assert.match(cpp, /__builtin_prefetch\(&x\[/);
  // The CUDA kernel reads x once: the copy's load.
  assert.is(emitCudaKernel(lowerToThreads(ir)).match(/\bx\[/g)?.length, 1);
  const x = new Global("f32", [3, 64], Float32Array.from({ length: 192 }, (_, i) => i)) as Global<"f32", ["T", "D"]>;
  const out = new Global("f32", [3, 64]) as Global<"f32", ["T", "D"]>;
  copyPrefetchingNext.reference(x, out, 64);
  assert.equal(out.data, x.data);
  assert.throws(() => x.prefetch(3, 0), (err: unknown) => err instanceof RangeError);
});

test("a local folded from Consts sizes scratch and loops, and its declaration is dropped", () => {
  const ir = compileKernel("test/fixtures/constant-local.ts", "halvesThroughScratch", { dtypes: {}, consts: { D: 64 } });
  assert.fixture(printKernel(ir), [
    "kernel halvesThroughScratch__D64(x: f32[T, D], out: f32[T, D] out, D: const) grid [x.dim0] threads 64",
    "  t: i32 = pid.0",
    "  scratch buf[32]",
    "  forEach i < 32:",
    "    buf[i] <- (x[t, i] + x[t, (i + 32)])",
    "  forEach i < 32:",
    "    out[t, i] <- buf[i]",
  ].join("\n"));
});

test("a choice between integer literals takes its use's type and keeps its condition, negated or not", () => {
  const ir = compileKernel("test/fixtures/literal-choice.ts", "literalChoices", { dtypes: {}, consts: { D: 64 } });
  assert.fixture(printKernel(ir), [
    "kernel literalChoices__D64(x: f32[T, D], out: f32[T, D] out, D: const) grid [x.dim0] threads 64",
    "  t: i32 = pid.0",
    "  width: i32 = select((x.dim0 <= 4), 64, 32)",
    "  scale: f32 = select((t < 2), 3f, -select((t < 1), 5f, 7f))",
    "  forEach i < 64:",
    "    out[t, i] <- ((x[t, (i % width)] * scale) + select((t > 0), 1f, 0f))",
  ].join("\n"));
});

test("the IR printer folds Const D into the reduction bound and keeps scalars as parameters", () => {
  const ir = compileKernel("dsl/kernels/rms-norm.ts", "rmsNorm", { dtypes: { A: "bf16", W: "f32" }, consts: { D: 64 } });
  const lines = printKernel(ir).split("\n");
  assert.is(lines[0], "kernel rmsNorm__bf16_f32__D64(x: bf16[T, D], w: f32[D], out: bf16[T, D] out, eps: f32, wOffset: f32, D: const) grid [x.dim0] threads 1024");
  assert.is(lines[2], "  inv: f32 = rsqrt(((reduce.sum(i < 64: (x[t, i] * x[t, i])) / 64f) + %eps))");
});

test("emitted CUDA for rmsNorm bf16: shared scratch for the reduction, strided thread loops, bf16 conversions", () => {
  const ir = compileKernel("dsl/kernels/rms-norm.ts", "rmsNorm", { dtypes: { A: "bf16", W: "f32" }, consts: { D: 64 } });
  const lines = emitCudaKernel(lowerToThreads(ir)).split("\n").map((l) => l.trim());
  const expected = [
    "#include \"tsvllm_cuda.cuh\"",
    "__global__ void __launch_bounds__(1024) rmsNorm__bf16_f32__D64_kernel(const uint16_t* x, int64_t x_d0, int64_t x_d1, const float* w, int64_t w_d0, uint16_t* out, int64_t out_d0, int64_t out_d1, float eps, float wOffset, int64_t tsv_g0, int64_t tsv_g1) {",
    "__shared__ float tsv_red[32];",
    "int t = tsv_pid0;",
    "for (int i = (int)threadIdx.x; i < 64; i += 1024) {",
    "tsv_r0 = tsv_block_all_reduce_sum(tsv_r0, tsv_red);",
    "float inv = rsqrtf(((tsv_r0 / 64.0000000f) + eps));",
    "out[((int64_t)(t) * 64 + i)] = tsv_f32_to_bf16(((tsv_bf16_to_f32(x[((int64_t)(t) * 64 + i)]) * inv) * (w[(int64_t)(i)] + wOffset)));",
    "__syncthreads();",
    "extern \"C\" void rmsNorm__bf16_f32__D64(void* const* ptrs, const double* scalars, const int64_t* dims, cudaStream_t stream) {",
    "const float eps = (float)scalars[0];",
    "const int64_t tsv_g0 = (int)x_d0, tsv_g1 = 1, tsv_g2 = 1;",
    "rmsNorm__bf16_f32__D64_kernel<<<(unsigned)tsv_blocks, 1024, 0, stream>>>(x, x_d0, x_d1, w, w_d0, out, out_d0, out_d1, eps, wOffset, tsv_g0, tsv_g1);",
  ];
  for (const line of expected) assert.ok(lines.includes(line), `missing line: ${line}`);
  assert.ok(lines[0].startsWith("// GENERATED by tsvllm codegen from dsl/kernels/rms-norm.ts (rmsNorm)"), "banner names the source");
});

test("a kernel's work option decides on the CPU whether a launch goes to the thread pool", () => {
  const ir = compileKernel("dsl/kernels/matmul-blocked.ts", "matmulBlocked", { dtypes: { A: "f32", W: "f32" }, consts: { K: 64 } });
  assert.ok(printKernel(ir).split("\n")[0].includes("work [x.dim0, (wp.dim0 * 16), 64]"), "work factors are specialised like the grid");
  const cpp = emitCppKernel(ir);
  assert.ok(cpp.includes("tsv_parallel_for(tsv_g0 * tsv_g1 * tsv_g2, (int64_t)((int)x_d0) * (int64_t)(((int)wp_d0 * 16)) * (int64_t)(64) > 524288, tsv_program);"), "the work product is taken in int64 against the threshold");
  const norm = emitCppKernel(compileKernel("dsl/kernels/rms-norm.ts", "rmsNorm", { dtypes: { A: "f32", W: "f32" }, consts: { D: 64 } }));
  assert.ok(/tsv_parallel_for\(tsv_g0 \* tsv_g1 \* tsv_g2, tsv_g0 \* tsv_g1 \* tsv_g2 \* \d+ > 524288, tsv_program\);/.test(norm), "without the option, work is estimated from the body");
});

test("emitted CUDA for matmulDecode: each thread's 8 consecutive x and w elements come in 16-byte vector loads, summed in order", () => {
  const ir = compileKernel("dsl/kernels/matmul-decode.ts", "matmulDecode", { dtypes: { A: "f32", W: "bf16" }, consts: { K: 64 } });
  const lines = emitCudaKernel(lowerToThreads(ir)).split("\n").map((l) => l.trim());
  for (const line of [
    "tsv_load_vector<8>(j_vec0, &x[((int64_t)(t) * 64 + ((c * 8) + 0))]);",
    "tsv_load_vector<8>(j_vec1, &w[((int64_t)(n) * 64 + ((c * 8) + 0))]);",
    "for (int j = 0; j < 8; j += 1) {",
    "tsv_r1 = (tsv_r1 + (j_vec0[j] * tsv_bf16_to_f32(j_vec1[j])));",
  ]) assert.ok(lines.includes(line), `missing: ${line}`);
});

test("emitted CUDA keeps scalar loads for a buffer the kernel writes, a read under a condition, and rows not a multiple of 8 long", () => {
  for (const [exportName, D] of [["sumInPlace", 64], ["maskedSum", 64], ["oddRowSum", 12]] as const) {
    const ir = compileKernel("test/fixtures/vector-load-cases.ts", exportName, { dtypes: {}, consts: { D } });
    const source = emitCudaKernel(lowerToThreads(ir));
    assert.not.ok(source.includes("tsv_load_vector"), `${exportName}: no vector loads`);
    assert.ok(source.includes("for (int j = 0; j < 8; j += 1) {"), `${exportName}: the 8-element loop is there`);
  }
});

test.run();
