// The kernel cases the GPU check runs: each compiled for CUDA here, run on the H200 against its DSL
// reference (the kernel function itself, in JS), and timed against the bandwidth/FLOP roofline.
import { Global } from "../../dsl/global.ts";
import type { Specialization } from "../../codegen/ir/specialize.ts";
import { addRmsNorm } from "../../dsl/kernels/add-rms-norm.ts";
import { siluMul } from "../../dsl/kernels/activations.ts";
import { matmul } from "../../dsl/kernels/matmul.ts";
import { matmulDecode } from "../../dsl/kernels/matmul-decode.ts";
import { matmulMma } from "../../dsl/kernels/matmul-mma.ts";
import { pagedAttention } from "../../dsl/kernels/paged-attention.ts";
import { pagedAttentionTiled } from "../../dsl/kernels/paged-attention-tiled.ts";
import { pagedDecodeSplit } from "../../dsl/kernels/paged-decode.ts";
import { ropeNeox } from "../../dsl/kernels/rope.ts";
import { matmulQ8_0 } from "../../dsl/kernels/gguf-matmul.ts";
import { matmulFp8Weights } from "../../dsl/kernels/fp8-matmul.ts";
import { matmulFp8BlockMma, matmulFp8Mma } from "../../dsl/kernels/fp8-mma.ts";
import { sampleRows } from "../../dsl/kernels/sampling.ts";
import { randomGlobal } from "../../test/support/kernel-args.ts";

export interface KernelCase {
  name: string;
  file: string;
  exportName: string;
  spec: Specialization;
  reference: { reference: (...args: never[]) => void };
  /** Small arguments for the correctness check. */
  check: () => (Global | number)[];
  /** Large arguments for timing, with the bytes moved and FLOPs done per launch. */
  timing?: () => { args: (Global | number)[]; bytes: number; flops: number };
  /** A GEMM with arguments (x, w, out, K): also run through cuBLASLt (checked, then timed) for comparison. */
  cublasLt?: boolean;
}

function pagedBatch(seqs: number, len: number, BS: number) {
  const blocksPerSeq = Math.ceil(len / BS);
  const blockTables = new Global("i32", [seqs, blocksPerSeq]);
  for (let s = 0; s < seqs; s++) for (let b = 0; b < blocksPerSeq; b++) blockTables.put(s, b, s * blocksPerSeq + b);
  const seqIdx = new Global("i32", [seqs]);
  const positions = new Global("i32", [seqs]);
  for (let s = 0; s < seqs; s++) {
    seqIdx.put(s, s);
    positions.put(s, len - 1);
  }
  return { blockTables, seqIdx, positions, numBlocks: seqs * blocksPerSeq };
}

/** A decode-shaped matmul: T tokens of f32 activations over an [N, K] bf16 weight, which it reads once. */
function gemvTiming(T: number, N: number, K: number) {
  return { args: [randomGlobal("f32", [T, K]), randomGlobal("bf16", [N, K], 0.05), new Global("f32", [T, N]), K], bytes: N * K * 2, flops: 2 * T * N * K };
}

const kvBf16 = (numBlocks: number) => randomGlobal("bf16", [numBlocks, 16, 8, 128]);
const kvBytes = (seqs: number, len: number) => seqs * len * 8 * 128 * 2 * 2;

/** Llama-3-8B decode attention (32 query heads over 8 KV heads of 128, bf16 cache in blocks of 16)
 *  as the forward launches it: pagedAttentionTiled, or split-K over `splits` (the merge is not timed). */
function decodeAttention(seqs: number, len: number, splits?: number) {
  const b = pagedBatch(seqs, len, 16);
  const paged = [kvBf16(b.numBlocks), kvBf16(b.numBlocks), b.blockTables, b.seqIdx, b.positions];
  // scale, softcap, window, then (pagedAttentionTiled only) vScale and SINKS; split-K's merge takes vScale.
  const options = [128 ** -0.5, 0, 0, ...(splits === undefined ? [1] : []), 16, 128, 4, ...(splits === undefined ? [0] : [])];
  // pagedAttentionTiled's output and (unread: SINKS 0) sinks, or split-K's partials.
  const partials = splits === undefined ? [new Global("f32", [seqs, 32, 128]), new Global("f32", [32])] : [new Global("f32", [seqs, 32, splits]), new Global("f32", [seqs, 32, splits]), new Global("f32", [seqs, 32, splits, 128])];
  return { args: [randomGlobal("f32", [seqs, 32, 128]), ...paged, ...partials, ...options], bytes: kvBytes(seqs, len), flops: seqs * 32 * len * 128 * 4 };
}

/** Rows sampled at the end of a Llama-3 step (vocabulary 128256): temperature 0.8, top-k 50, top-p 0.9, min-p 0.05. */
function sampling(rows: number, V: number): (Global | number)[] {
  const column = (dtype: "f32" | "i32", value: (r: number) => number) => new Global(dtype, [rows], dtype === "f32" ? Float32Array.from({ length: rows }, (_, r) => value(r)) : Int32Array.from({ length: rows }, (_, r) => value(r)));
  return [randomGlobal("f32", [rows, V], 8), column("i32", (r) => r), column("f32", () => 0.8), column("i32", () => 50), column("f32", () => 0.9), column("f32", () => 0.05), column("f32", (r) => (r + 0.5) / rows), new Global("i32", [rows])];
}

/** A Q8_0 GEMV (one token over [N, K] in 34-byte blocks of 32), which reads the blocks once. */
function q8_0Gemv(N: number, K: number): (Global | number)[] {
  const w = new Global("u8", [N, (K / 32) * 34]);
  for (let i = 0; i < w.data.length; i++) w.data[i] = i % 34 === 1 ? 0x20 : (i * 2654435761) >>> 24;
  return [randomGlobal("f32", [1, K]), w, new Global("f32", [1, N]), K];
}

/** An fp8 GEMV (one token over [N, K] e4m3 weights with a scale per output), which reads the weights once. */
function fp8Gemv(N: number, K: number): (Global | number)[] {
  return [randomGlobal("f32", [1, K]), randomGlobal("fp8e4m3", [N, K], 300), randomGlobal("f32", [N], 0.01), new Global("f32", [1, N]), K];
}

/** fp8 W8A8 on tensor cores: T tokens of e4m3 activations (a scale each) over [N, K] e4m3 weights (a scale per output). */
function fp8Mma(T: number, N: number, K: number): (Global | number)[] {
  return [randomGlobal("fp8e4m3", [T, K], 448), randomGlobal("f32", [T], 0.01), randomGlobal("fp8e4m3", [N, K], 448), randomGlobal("f32", [N], 0.001), new Global("bf16", [T, N]), K, 64];
}

/** Block-wise W8A8: e4m3 activations with a scale per token and 128 inputs, e4m3 weights with one per 128 x 128 block. */
function fp8BlockMma(T: number, N: number, K: number): (Global | number)[] {
  return [randomGlobal("fp8e4m3", [T, K], 448), randomGlobal("f32", [T, K / 128], 0.01), randomGlobal("fp8e4m3", [N, K], 448), randomGlobal("f32", [N / 128, K / 128], 0.001), new Global("bf16", [T, N]), K, 128, 128, 64];
}

export const kernelCases: KernelCase[] = [
  {
    name: "sampleRows (temperature, top-k, top-p, min-p) 256 rows x 128256",
    file: "dsl/kernels/sampling.ts", exportName: "sampleRows", spec: { dtypes: {}, consts: {} }, reference: sampleRows,
    check: () => sampling(8, 3000),
    timing: () => ({ args: sampling(256, 128256), bytes: 256 * 128256 * 4, flops: 0 }),
  },
  {
    name: "matmulQ8_0 (GEMV on GGUF blocks) 14336x4096",
    file: "dsl/kernels/gguf-matmul.ts", exportName: "matmulQ8_0", spec: { dtypes: { A: "f32" }, consts: { K: 4096 } }, reference: matmulQ8_0,
    check: () => q8_0Gemv(64, 4096),
    timing: () => ({ args: q8_0Gemv(14336, 4096), bytes: 14336 * 128 * 34, flops: 2 * 14336 * 4096 }),
  },
  {
    name: "matmulFp8Weights (GEMV on fp8 weights) 14336x4096",
    file: "dsl/kernels/fp8-matmul.ts", exportName: "matmulFp8Weights", spec: { dtypes: { A: "f32" }, consts: { K: 4096 } }, reference: matmulFp8Weights,
    check: () => fp8Gemv(64, 4096),
    timing: () => ({ args: fp8Gemv(14336, 4096), bytes: 14336 * 4096 + 14336 * 4, flops: 2 * 14336 * 4096 }),
  },
  {
    name: "addRmsNorm bf16 D4096",
    file: "dsl/kernels/add-rms-norm.ts", exportName: "addRmsNorm", spec: { dtypes: { A: "bf16", W: "bf16" }, consts: { D: 4096 } }, reference: addRmsNorm,
    check: () => [randomGlobal("bf16", [8, 4096]), randomGlobal("bf16", [8, 4096]), randomGlobal("bf16", [4096]), new Global("bf16", [8, 4096]), 1e-5, 0, 4096],
    timing: () => ({ args: [randomGlobal("bf16", [4096, 4096]), randomGlobal("bf16", [4096, 4096]), randomGlobal("bf16", [4096]), new Global("bf16", [4096, 4096]), 1e-5, 0, 4096], bytes: 4096 * 4096 * 2 * 4, flops: 0 }),
  },
  {
    name: "siluMul bf16 I14336",
    file: "dsl/kernels/activations.ts", exportName: "siluMul", spec: { dtypes: { A: "bf16" }, consts: { I: 14336 } }, reference: siluMul,
    check: () => [randomGlobal("bf16", [4, 2 * 14336], 4), new Global("bf16", [4, 14336]), 14336],
  },
  {
    name: "matmul (GEMV) bf16 4096x4096",
    file: "dsl/kernels/matmul.ts", exportName: "matmul", spec: { dtypes: { A: "f32", W: "bf16" }, consts: { K: 4096 } }, reference: matmul,
    check: () => [randomGlobal("f32", [3, 4096]), randomGlobal("bf16", [64, 4096], 0.05), new Global("f32", [3, 64]), 4096],
    timing: () => ({ args: [randomGlobal("f32", [1, 4096]), randomGlobal("bf16", [4096, 4096], 0.05), new Global("f32", [1, 4096]), 4096], bytes: 4096 * 4096 * 2, flops: 2 * 4096 * 4096 }),
  },
  {
    name: "matmul (per-token GEMV) bf16 32 tokens x 28672x4096",
    file: "dsl/kernels/matmul.ts", exportName: "matmul", spec: { dtypes: { A: "f32", W: "bf16" }, consts: { K: 4096 } }, reference: matmul,
    check: () => [randomGlobal("f32", [3, 4096]), randomGlobal("bf16", [64, 4096], 0.05), new Global("f32", [3, 64]), 4096],
    timing: () => gemvTiming(32, 28672, 4096),
  },
  ...[[1, 4096, 4096], [1, 28672, 4096], [32, 28672, 4096], [32, 4096, 14336]].map(([T, N, K]): KernelCase => ({
    name: `matmulDecode bf16 ${T} tokens x ${N}x${K}`,
    file: "dsl/kernels/matmul-decode.ts", exportName: "matmulDecode", spec: { dtypes: { A: "f32", W: "bf16" }, consts: { K } }, reference: matmulDecode,
    check: () => [randomGlobal("f32", [3, K]), randomGlobal("bf16", [64, K], 0.05), new Global("f32", [3, 64]), K],
    timing: () => gemvTiming(T, N, K),
  })),
  {
    name: "matmul (GEMM) bf16 512x4096x4096",
    file: "dsl/kernels/matmul.ts", exportName: "matmul", spec: { dtypes: { A: "f32", W: "bf16" }, consts: { K: 4096 } }, reference: matmul,
    check: () => [randomGlobal("f32", [2, 4096]), randomGlobal("bf16", [16, 4096], 0.05), new Global("f32", [2, 16]), 4096],
    timing: () => ({ args: [randomGlobal("f32", [512, 4096]), randomGlobal("bf16", [4096, 4096], 0.05), new Global("f32", [512, 4096]), 4096], bytes: 4096 * 4096 * 2, flops: 2 * 512 * 4096 * 4096 }),
  },
  {
    name: "matmulFp8Mma (W8A8 GEMM, e4m3 tensor cores) 2048x4096x4096",
    file: "dsl/kernels/fp8-mma.ts", exportName: "matmulFp8Mma", spec: { dtypes: { A: "bf16" }, consts: { K: 4096, TM: 64 } }, reference: matmulFp8Mma,
    check: () => fp8Mma(70, 72, 4096),
    timing: () => ({ args: fp8Mma(2048, 4096, 4096), bytes: 2048 * 4096 + 4096 * 4096 + 2048 * 4096 * 2, flops: 2 * 2048 * 4096 * 4096 }),
  },
  {
    name: "matmulFp8BlockMma (block-wise W8A8 GEMM, 128 x 128 blocks) 2048x4096x4096",
    file: "dsl/kernels/fp8-mma.ts", exportName: "matmulFp8BlockMma", spec: { dtypes: { A: "bf16" }, consts: { K: 4096, BN: 128, BK: 128, TM: 64 } }, reference: matmulFp8BlockMma,
    check: () => fp8BlockMma(70, 256, 4096),
    timing: () => ({ args: fp8BlockMma(2048, 4096, 4096), bytes: 2048 * 4096 + 4096 * 4096 + 2048 * 4096 * 2, flops: 2 * 2048 * 4096 * 4096 }),
  },
  {
    name: "matmulMma (GEMM, tensor cores) bf16 2048x4096x4096",
    file: "dsl/kernels/matmul-mma.ts", exportName: "matmulMma", spec: { dtypes: { H: "bf16", A: "bf16" }, consts: { K: 4096, TM: 64 } }, reference: matmulMma,
    check: () => [randomGlobal("bf16", [70, 4096]), randomGlobal("bf16", [72, 4096], 0.05), new Global("bf16", [70, 72]), 4096, 64],
    timing: () => ({ args: [randomGlobal("bf16", [2048, 4096]), randomGlobal("bf16", [4096, 4096], 0.05), new Global("bf16", [2048, 4096]), 4096, 64], bytes: (2048 * 4096 * 2 + 4096 * 4096) * 2, flops: 2 * 2048 * 4096 * 4096 }),
    cublasLt: true,
  },
  ...[64, 32].map((TM): KernelCase => ({
    name: `matmulMma (batched decode, ${TM}-row tiles) bf16 32 tokens x 28672x4096`,
    file: "dsl/kernels/matmul-mma.ts", exportName: "matmulMma", spec: { dtypes: { H: "bf16", A: "f32" }, consts: { K: 4096, TM } }, reference: matmulMma,
    check: () => [randomGlobal("bf16", [20, 4096]), randomGlobal("bf16", [72, 4096], 0.05), new Global("f32", [20, 72]), 4096, TM],
    timing: () => ({ args: [randomGlobal("bf16", [32, 4096]), randomGlobal("bf16", [28672, 4096], 0.05), new Global("f32", [32, 28672]), 4096, TM], bytes: 28672 * 4096 * 2, flops: 2 * 32 * 28672 * 4096 }),
  })),
  {
    name: "ropeNeox f32 HD128",
    file: "dsl/kernels/rope.ts", exportName: "ropeNeox", spec: { dtypes: { A: "f32" }, consts: { R2: 64 } }, reference: ropeNeox,
    check: () => {
      const positions = new Global("i32", [5]);
      [0, 1, 17, 900, 4000].forEach((p, i) => positions.put(i, p));
      const invFreq = new Global("f32", [64]);
      for (let i = 0; i < 64; i++) invFreq.put(i, 500000 ** (-(2 * i) / 128));
      return [randomGlobal("f32", [5, 8, 128]), positions, invFreq, 1, 64];
    },
  },
  {
    name: "pagedAttention decode bf16 HD128 BS16 G4 (64 seqs x 1024 ctx)",
    file: "dsl/kernels/paged-attention.ts", exportName: "pagedAttention", spec: { dtypes: { A: "f32", C: "bf16", W: "f32" }, consts: { BS: 16, HD: 128, G: 4, SINKS: 0 } }, reference: pagedAttention,
    check: () => {
      const b = pagedBatch(3, 40, 16);
      return [randomGlobal("f32", [3, 8, 128]), randomGlobal("bf16", [b.numBlocks, 16, 2, 128]), randomGlobal("bf16", [b.numBlocks, 16, 2, 128]), b.blockTables, b.seqIdx, b.positions, new Global("f32", [3, 8, 128]), new Global("f32", [8]), 128 ** -0.5, 0, 0, 1, 16, 128, 4, 0];
    },
    timing: () => {
      const b = pagedBatch(64, 1024, 16);
      const kv = () => new Global("bf16", [b.numBlocks, 16, 8, 128]);
      return { args: [randomGlobal("f32", [64, 32, 128]), kv(), kv(), b.blockTables, b.seqIdx, b.positions, new Global("f32", [64, 32, 128]), new Global("f32", [32]), 128 ** -0.5, 0, 0, 1, 16, 128, 4, 0], bytes: 64 * 1024 * 8 * 128 * 2 * 2, flops: 64 * 32 * 1024 * 128 * 4 };
    },
  },
  ...[[1, 4096, 32], [64, 1024, 8]].map(([seqs, len, splits]): KernelCase => ({
    name: `pagedDecodeSplit bf16 HD128 BS16 G4 (${seqs} seqs x ${len} ctx, ${splits} splits)`,
    file: "dsl/kernels/paged-decode.ts", exportName: "pagedDecodeSplit", spec: { dtypes: { A: "f32", C: "bf16" }, consts: { BS: 16, HD: 128, G: 4 } }, reference: pagedDecodeSplit,
    check: () => decodeAttention(3, 40, 2).args,
    timing: () => decodeAttention(seqs, len, splits),
  })),
  ...[[1, 4096], [64, 1024]].map(([seqs, len]): KernelCase => ({
    name: `pagedAttentionTiled decode bf16 HD128 BS16 G4 (${seqs} seqs x ${len} ctx)`,
    file: "dsl/kernels/paged-attention-tiled.ts", exportName: "pagedAttentionTiled", spec: { dtypes: { A: "f32", C: "bf16", W: "f32" }, consts: { BS: 16, HD: 128, G: 4, SINKS: 0 } }, reference: pagedAttentionTiled,
    check: () => decodeAttention(3, 40).args,
    timing: () => decodeAttention(seqs, len),
  })),
];
