// ropeKvWrite (the fused qkv -> rope -> paged-cache store) against the launches it replaces, run as
// their DSL references: q, k and v cut out of the qkv rows, ropeNeox / ropeGptj on q and k, then
// kvWrite. NeoX and GPT-J pairings, a partial-rotary head (rotary 32 of 80), bf16 activations
// and cache, an f32 step beside a bf16 cache and beside an fp8 e4m3 one; one token's slot is padding (-1), and the cache
// starts random so a store anywhere else shows. Compiled C++ and (on the f32 cases) the emulated
// CUDA lowering against the kernel's own reference too.
import { test } from "uvu";
import { Global } from "../../dsl/global.ts";
import { kvWrite } from "../../dsl/kernels/kv-write.ts";
import { ropeKvWrite } from "../../dsl/kernels/rope-kv-write.ts";
import { ropeGptj, ropeNeox } from "../../dsl/kernels/rope.ts";
import { assertClose, buildKernels, checkAgainstReference, cloneArgs, randomGlobal, runReference, tolerance, type Args, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const cases: { A: F; C: F | "fp8e4m3" | "fp8e5m2"; HD: number; R2: number; NEOX: number }[] = [
  { A: "f32", C: "f32", HD: 64, R2: 32, NEOX: 1 }, { A: "f32", C: "f32", HD: 64, R2: 32, NEOX: 0 },
  { A: "f32", C: "f32", HD: 80, R2: 16, NEOX: 1 }, { A: "bf16", C: "bf16", HD: 128, R2: 64, NEOX: 1 },
  { A: "f32", C: "bf16", HD: 128, R2: 64, NEOX: 0 }, { A: "f32", C: "fp8e4m3", HD: 64, R2: 32, NEOX: 1 }, { A: "f32", C: "fp8e5m2", HD: 64, R2: 32, NEOX: 0 },
];
const BS = 4;
const specs: KernelSpec[] = cases.map(({ A, C, HD, R2, NEOX }) => ({ file: "dsl/kernels/rope-kv-write.ts", exportName: "ropeKvWrite", spec: { dtypes: { A, C }, consts: { R2, BS, HD, NEOX } } }));
const { irs, native } = buildKernels("test_rope_kv_write", specs);
const [T, HQ, HKV, NB] = [5, 4, 2, 6];

/** Columns [offset, offset + heads * HD) of each qkv row as [T, heads, HD]. */
function heads(qkv: Global, offset: number, count: number, HD: number): Global {
  const out = new Global(qkv.dtype.name, [T, count, HD]);
  for (let t = 0; t < T; t++) for (let e = 0; e < count * HD; e++) out.data[t * count * HD + e] = qkv.at(t, offset + e);
  return out;
}

irs.forEach((ir, c) => {
  const { A, C, HD, R2, NEOX } = cases[c];
  test(`${ir.symbol} ${NEOX ? "neox" : "gptj"}: the slices, ropes and kvWrite it replaces`, () => {
    const qkv = randomGlobal(A, [T, (HQ + 2 * HKV) * HD], 2);
    const positions = new Global("i32", [T], Int32Array.from([0, 7, 8, 300, 4095]));
    const slots = new Global("i32", [T], Int32Array.from([5, 22, -1, 0, 13]));
    const invFreq = new Global("f32", [R2], Float32Array.from({ length: R2 }, (_, i) => 10000 ** (-i / R2)));
    const mscale = 1.1;
    const cache = () => randomGlobal(C, [NB, BS, HKV, HD]);
    // Cache scales as a checkpoint's fp8 k_scale / v_scale would give them; the store divides by them as kvWrite does.
    const [kScale, vScale] = [0.5, 2];
    const args: Args = [qkv, positions, invFreq, new Global(A, [T, HQ, HD]), cache(), cache(), slots, mscale, kScale, vScale, R2, BS, HD, NEOX];
    // A bf16 cache holds each key rounded to bf16: the compiled rope's f32 value and the reference's
    // may differ in their last bit and so round one bf16 step apart.
    const tol = tolerance[A === "bf16" || C === "bf16" ? "bf16" : "f32"];
    checkAgainstReference(ropeKvWrite, ir, native(ir), args, tol, { emulate: A === "f32" && C !== "bf16" });

    const rope = NEOX ? ropeNeox : ropeGptj;
    const [q, k, v] = [heads(qkv, 0, HQ, HD), heads(qkv, HQ * HD, HKV, HD), heads(qkv, (HQ + HKV) * HD, HKV, HD)];
    runReference(rope, [q, positions, invFreq, mscale, R2]);
    runReference(rope, [k, positions, invFreq, mscale, R2]);
    const [kCache, vCache] = cloneArgs([args[4], args[5]]) as Global[];
    runReference(kvWrite, [k, v, kCache, vCache, slots, kScale, vScale, BS, HD]);
    const fused = cloneArgs(args);
    runReference(ropeKvWrite, fused);
    assertClose(fused[3] as Global, q, tol, "q");
    assertClose(fused[4] as Global, kCache, tol, "kCache");
    assertClose(fused[5] as Global, vCache, tol, "vCache");
  });
});

test.run();
