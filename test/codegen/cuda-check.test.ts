// The CUDA compile check: every kernel in dsl/kernels gets specialisations covering the grid,
// a real nvcc compiles a small unit cleanly (when nvcc is installed), and a failing compiler's
// message is reported against the source it failed on.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cudaCheckUnits, runCudaCheck } from "../../codegen/build/cuda-check.ts";
import { parseKernelFile } from "../../codegen/frontend/parse.ts";

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "tsvllm-cuda-check-"));
test.after(() => fs.rmSync(tempDir, { recursive: true, force: true }));

test("every exported kernel in dsl/kernels is specialised, attention over the whole dtype/HD/BS/G grid plus mixed dtypes, fp8 caches and sinks", () => {
  const units = cudaCheckUnits();
  const checked = new Set(units.flatMap((u) => u.kernels.map((k) => k.exportName)));
  for (const file of fs.readdirSync("dsl/kernels").filter((f) => f.endsWith(".ts"))) {
    for (const ast of parseKernelFile(path.join("dsl/kernels", file))) assert.ok(checked.has(ast.exportName), `${ast.exportName} is not checked`);
  }
  const attention = units.find((u) => u.name === "paged-attention")!.kernels;
  const seen = (key: string) => new Set(attention.map((k) => k.spec.consts[key]));
  assert.equal([...seen("HD")].sort((a, b) => a - b), [64, 80, 128]);
  assert.equal([...seen("BS")].sort((a, b) => a - b), [16, 32]);
  assert.equal([...seen("G")].sort((a, b) => a - b), [1, 4, 8]);
  assert.equal(new Set(attention.map((k) => k.spec.dtypes.A)), new Set(["f32", "f16", "bf16"]));
  const mixed = attention.filter((k) => k.spec.dtypes.A !== k.spec.dtypes.C).map((k) => `${k.spec.dtypes.A}/${k.spec.dtypes.C}`);
  assert.equal(mixed, ["f32/bf16", "bf16/f32", "bf16/fp8e4m3", "bf16/fp8e5m2"], "f32 activations beside a bf16 cache, and the reverse, once each; bf16 ones beside each fp8 cache");
  assert.equal(attention.filter((k) => k.spec.consts.SINKS === 1).map((k) => k.spec.dtypes.A), ["f32", "f16", "bf16"], "with sinks, once per dtype");
  assert.is(attention.length, 3 * 3 * 2 * 3 + 3 + 4);
});

const hasNvcc = (() => {
  try {
    execFileSync("nvcc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

test("nvcc compiles the softmax unit for sm_80 and sm_90a with warnings as errors", async () => {
  if (!hasNvcc) return;
  const result = await runCudaCheck({ filter: /^softmax$/, outDir: path.join(tempDir, "real") });
  assert.equal(result.failures, []);
  assert.is(result.sources, 1);
  assert.is(result.kernels, 3 + 2, "f32/f16/bf16, then f32 beside bf16 both ways");
});

test("a compiler failure is reported with the source file and the compiler's message", async () => {
  const fakeNvcc = path.join(tempDir, "fake-nvcc");
  fs.writeFileSync(fakeNvcc, "#!/bin/sh\necho 'error: identifier \"b\" is undefined' >&2\nexit 1\n", { mode: 0o755 });
  const result = await runCudaCheck({ filter: /^argmax$/, nvccPath: fakeNvcc, outDir: path.join(tempDir, "fake") });
  assert.is(result.failures.length, 1);
  assert.ok(result.failures[0].source.endsWith("sampling.cu"));
  assert.match(result.failures[0].output, /identifier "b" is undefined/);
});

test.run();
