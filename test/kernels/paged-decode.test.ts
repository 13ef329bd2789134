// Split-K decode attention (pagedDecodeSplit + pagedDecodeCombine) against pagedAttention's DSL
// reference on the same paged cache: one query token per sequence at its last position, except the
// two longest, whose last 2 and 3 positions are queries (the kernels compute any token right;
// the forward pass runs them on decode steps only). Lengths 1,
// block - 1, block, block + 1, 2 blocks + 1 and 5 blocks + 3 with 1 and 3 splits, so some splits are
// empty; each (head dim, block size, GQA group) value of the grid appears, over f32, f16
// and bf16, two of them with attention sinks (merged by the combine). The split kernel is also checked output by output against its own reference (compiled
// and, on small shapes, emulated).
import { test } from "uvu";
import { launch } from "../../codegen/build/launch.ts";
import { emulate } from "../../codegen/lower/emulator.ts";
import { lowerToThreads } from "../../codegen/lower/threads.ts";
import { Global } from "../../dsl/global.ts";
import { pagedAttention } from "../../dsl/kernels/paged-attention.ts";
import { pagedDecodeCombine, pagedDecodeSplit } from "../../dsl/kernels/paged-decode.ts";
import { makeBatch } from "../support/paged-batch.ts";
import { assertClose, buildKernels, checkAgainstReference, randomGlobal, runReference, tolerance, type Args, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const grid: { A: F; C?: "fp8e4m3" | "fp8e5m2"; HD: number; BS: number; G: number; SINKS?: 0 | 1 }[] = [
  { A: "f32", HD: 64, BS: 16, G: 1 }, { A: "f32", HD: 64, BS: 32, G: 4 }, { A: "f32", HD: 80, BS: 16, G: 8 },
  { A: "f32", HD: 80, BS: 32, G: 1 }, { A: "f32", HD: 128, BS: 16, G: 4 }, { A: "f32", HD: 128, BS: 32, G: 8 },
  { A: "f16", HD: 128, BS: 16, G: 4 }, { A: "bf16", HD: 64, BS: 32, G: 8 },
  // fp8 e4m3 caches (kv_cache_dtype fp8), read widened.
  { A: "f32", C: "fp8e4m3", HD: 64, BS: 16, G: 4 }, { A: "bf16", C: "fp8e4m3", HD: 128, BS: 16, G: 8 }, { A: "f32", C: "fp8e5m2", HD: 64, BS: 16, G: 4 },
  { A: "f32", HD: 64, BS: 16, G: 4, SINKS: 1 }, { A: "bf16", HD: 64, BS: 16, G: 8, SINKS: 1 },
];
const specs: KernelSpec[] = grid.flatMap(({ A, C = A, HD, BS, G, SINKS = 0 }): KernelSpec[] => [
  { file: "dsl/kernels/paged-decode.ts", exportName: "pagedDecodeSplit", spec: { dtypes: { A, C }, consts: { BS, HD, G } } },
  { file: "dsl/kernels/paged-decode.ts", exportName: "pagedDecodeCombine", spec: { dtypes: { A, W: A }, consts: { HD, SINKS } } },
]);
const { irs, native } = buildKernels("test_paged_decode", specs);
const HKV = 2;

grid.forEach(({ A, C = A, HD, BS, G, SINKS = 0 }, c) => {
  const [split, combine] = [irs[2 * c], irs[2 * c + 1]];
  const lengths = [1, BS - 1, BS, BS + 1, 2 * BS + 1, 5 * BS + 3];
  for (const splits of [1, 3]) {
    for (const variant of [{ softcap: 0, window: 0, vScale: 1 }, { softcap: 30, window: BS + 2, vScale: 0.75 }]) {
      test(`${split.symbol} splits=${splits} softcap=${variant.softcap} window=${variant.window} vScale=${variant.vScale} sinks=${SINKS}: matches pagedAttention`, () => {
        const b = makeBatch(lengths, [1, 1, 1, 1, 2, 3], BS);
        const T = b.seqIdx.shape[0];
        const HQ = HKV * G;
        const q = randomGlobal(A, [T, HQ, HD]);
        const kc = randomGlobal(C, [b.numBlocks, BS, HKV, HD]);
        const vc = randomGlobal(C, [b.numBlocks, BS, HKV, HD]);
        const sinks = randomGlobal(A, [HQ], 2);
        const scale = 1 / Math.sqrt(HD);
        const expected = new Global(A, [T, HQ, HD]);
        runReference(pagedAttention, [q, kc, vc, b.blockTables, b.seqIdx, b.positions, expected, sinks, scale, variant.softcap, variant.window, variant.vScale, BS, HD, G, SINKS]);

        const partials = () => [new Global("f32", [T, HQ, splits]), new Global("f32", [T, HQ, splits]), new Global("f32", [T, HQ, splits, HD])];
        const splitArgs = (p: Global[]): Args => [q, kc, vc, b.blockTables, b.seqIdx, b.positions, ...p, scale, variant.softcap, variant.window, BS, HD, G];
        const emulated = A === "f32" && HD === 64 && G === 4;
        checkAgainstReference(pagedDecodeSplit, split, native(split), splitArgs(partials()), tolerance[A], { emulate: emulated });

        const runs: [string, (ir: typeof split, args: Args) => void][] = [
          ["reference", (ir, args) => runReference(ir === split ? pagedDecodeSplit : pagedDecodeCombine, args)],
          ["cpu", (ir, args) => launch(native(ir), ir, args)],
          ...(emulated ? [["emulated-cuda", (ir: typeof split, args: Args) => emulate(lowerToThreads(ir), args, { threads: 64 })] as [string, (ir: typeof split, args: Args) => void]] : []),
        ];
        for (const [name, run] of runs) {
          const p = partials();
          const out = new Global(A, [T, HQ, HD]);
          run(split, splitArgs(p));
          run(combine, [...p, out, sinks, variant.vScale, HD, SINKS]);
          assertClose(out, expected, tolerance[A], `${name} split-K decode vs pagedAttention`);
        }
      });
    }
  }
});

test.run();
