// pagedAttentionTiled (GQA-grouped, block-at-a-time) against pagedAttention's DSL reference on the
// same mixed batch: prefill chunks and decode tokens over ragged lengths (1, block - 1, block,
// block + 1, 2 blocks + 1) with blocks scattered in the cache, and a batch of decodes verifying 5
// drafts each (runs of one sequence's tokens attend together), plain and with soft-capping plus a
// sliding window, and on two grid points with attention sinks. Each (head dim, block size, GQA group) value of the grid appears, over
// f32, f16 and bf16; compiled C++ and (small shapes) the emulated CUDA lowering are also checked
// against the kernel's own reference.
import { test } from "uvu";
import { Global } from "../../dsl/global.ts";
import { pagedAttention } from "../../dsl/kernels/paged-attention.ts";
import { pagedAttentionTiled } from "../../dsl/kernels/paged-attention-tiled.ts";
import { makeBatch } from "../support/paged-batch.ts";
import { assertClose, buildKernels, checkAgainstReference, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const grid: { A: F; C?: "fp8e4m3" | "fp8e5m2"; HD: number; BS: number; G: number; SINKS?: 0 | 1 }[] = [
  { A: "f32", HD: 64, BS: 16, G: 1 }, { A: "f32", HD: 64, BS: 32, G: 4 }, { A: "f32", HD: 80, BS: 16, G: 8 },
  { A: "f32", HD: 80, BS: 32, G: 1 }, { A: "f32", HD: 128, BS: 16, G: 4 }, { A: "f32", HD: 128, BS: 32, G: 8 },
  { A: "f16", HD: 128, BS: 16, G: 4 }, { A: "bf16", HD: 64, BS: 32, G: 8 },
  // fp8 e4m3 caches (kv_cache_dtype fp8), read widened.
  { A: "f32", C: "fp8e4m3", HD: 64, BS: 16, G: 4 }, { A: "bf16", C: "fp8e4m3", HD: 128, BS: 32, G: 8 }, { A: "f32", C: "fp8e5m2", HD: 64, BS: 16, G: 4 },
  // Sinks (GPT-OSS): lone decode tokens (G 1 and 4 below 8 rows) and tiles.
  { A: "f32", HD: 64, BS: 16, G: 4, SINKS: 1 }, { A: "f16", HD: 64, BS: 16, G: 8, SINKS: 1 }, { A: "f32", HD: 64, BS: 32, G: 1, SINKS: 1 },
];
const specs: KernelSpec[] = grid.map(({ A, C = A, HD, BS, G, SINKS = 0 }) => ({ file: "dsl/kernels/paged-attention-tiled.ts", exportName: "pagedAttentionTiled", spec: { dtypes: { A, C, W: A }, consts: { BS, HD, G, SINKS } } }));
const { irs, native } = buildKernels("test_paged_attention_tiled", specs);
const HKV = 2;

grid.forEach(({ A, C = A, HD, BS, G, SINKS = 0 }, c) => {
  const ir = irs[c];
  const batches = {
    mixed: { lengths: [1, BS - 1, BS, BS + 1, 2 * BS + 1], queries: [1, BS - 1, 1, 3, 2 * BS + 1] },
    // Decodes verifying drafts: runs of 5 tokens per sequence, some across an 8-position window.
    drafts: { lengths: [13, 2 * BS + 6, BS + 9, 21, 7], queries: [5, 5, 5, 1, 5] },
  };
  for (const [batchName, { lengths, queries }] of Object.entries(batches)) for (const variant of [{ softcap: 0, window: 0, vScale: 1 }, { softcap: 30, window: BS + 2, vScale: 0.75 }]) {
    test(`${ir.symbol} ${batchName} batch, softcap=${variant.softcap} window=${variant.window} vScale=${variant.vScale} sinks=${SINKS}: matches pagedAttention`, () => {
      const b = makeBatch(lengths, queries, BS);
      const T = b.seqIdx.shape[0];
      const q = randomGlobal(A, [T, HKV * G, HD]);
      const kc = randomGlobal(C, [b.numBlocks, BS, HKV, HD]);
      const vc = randomGlobal(C, [b.numBlocks, BS, HKV, HD]);
      const sinks = randomGlobal(A, [HKV * G], 2);
      const args = (out: Global) => [q, kc, vc, b.blockTables, b.seqIdx, b.positions, out, sinks, 1 / Math.sqrt(HD), variant.softcap, variant.window, variant.vScale, BS, HD, G, SINKS];
      checkAgainstReference(pagedAttentionTiled, ir, native(ir), args(new Global(A, [T, HKV * G, HD])), tolerance[A], { emulate: A === "f32" && HD === 64 && G === 4 });
      const [tiled, plain] = [new Global(A, [T, HKV * G, HD]), new Global(A, [T, HKV * G, HD])];
      runReference(pagedAttentionTiled, args(tiled));
      runReference(pagedAttention, args(plain));
      assertClose(tiled, plain, tolerance[A], "tiled reference vs pagedAttention reference");
    });
  }
});

test.run();
