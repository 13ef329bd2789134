// Paged attention and the KV write over the grid: dtypes, head dims 64/80/128, block sizes
// 16/32, GQA groups 1/4/8, ragged sequences (lengths 1, block-1, block, block+1, 2 blocks+1) with
// mixed prefill chunks and decode tokens, blocks placed in shuffled order. Each compiled kernel is
// checked against its DSL reference, and the DSL attention itself against a naive softmax over the
// gathered keys (an independent oracle). Three more cases hold the cache in fp8 e4m3 or e5m2 (vLLM's
// kv_cache_dtype fp8, fp8_e5m2): the write rounds each value (every code, tie and hair either side
// of one, exactly as dsl/dtype.ts does), attention reads them widened. The
// write divides by the cache scales (kScale 0.5, vScale 4 here: what the store holds is checked
// against the cache dtype's rounding of k / kScale), attention multiplies its output by vScale
// (0.75 in the second variant). Two more grid points run with attention sinks (GPT-OSS: a learned
// logit per query head in each softmax's denominator), the naive oracle adding the sink's term.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { float8e4m3, float8e5m2, fp8e4m3BitsToF32, fp8e5m2BitsToF32 } from "../../dsl/dtype.ts";
import { Global } from "../../dsl/global.ts";
import { kvWrite } from "../../dsl/kernels/kv-write.ts";
import { pagedAttention } from "../../dsl/kernels/paged-attention.ts";
import { makeBatch, type Batch } from "../support/paged-batch.ts";
import { assertClose, buildKernels, checkAgainstReference, randomGlobal, runReference, tolerance, type KernelSpec } from "../support/kernel-harness.ts";

type F = "f32" | "f16" | "bf16";
const grid: { A: F; C?: "fp8e4m3" | "fp8e5m2"; HD: number; BS: number; G: number; SINKS?: 0 | 1 }[] = [];
for (const A of ["f32", "f16", "bf16"] as const)
  for (const HD of [64, 80, 128])
    for (const BS of [16, 32])
      for (const G of [1, 4, 8]) if (A === "f32" || (BS === 16 && G !== 1)) grid.push({ A, HD, BS, G });
grid.push({ A: "f32", C: "fp8e4m3", HD: 64, BS: 16, G: 4 }, { A: "bf16", C: "fp8e4m3", HD: 128, BS: 16, G: 8 }, { A: "f32", C: "fp8e5m2", HD: 64, BS: 16, G: 4 });
grid.push({ A: "f32", HD: 64, BS: 16, G: 4, SINKS: 1 }, { A: "f16", HD: 80, BS: 16, G: 8, SINKS: 1 });

const specs: KernelSpec[] = grid.flatMap(({ A, C = A, HD, BS, G, SINKS = 0 }): KernelSpec[] => [
  { file: "dsl/kernels/paged-attention.ts", exportName: "pagedAttention", spec: { dtypes: { A, C, W: A }, consts: { BS, HD, G, SINKS } } },
  { file: "dsl/kernels/kv-write.ts", exportName: "kvWrite", spec: { dtypes: { A, C }, consts: { BS, HD } } },
]);
const { irs, native } = buildKernels("test_attention", specs);

/** softmax(q k^T * scale) v over the gathered keys, in f64; with sinks, each head's sink logit joins the softmax with a zero value. */
function naiveAttention(q: Global, kc: Global, vc: Global, b: Batch, scale: number, softcap: number, window: number, vScale: number, G: number, sinks: Global | null): Global {
  const [T, HQ, HD] = q.shape;
  const BS = kc.shape[1];
  const out = new Global(q.dtype.name, [T, HQ, HD]);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < HQ; h++) {
      const s = b.seqIdx.at(t);
      const pos = b.positions.at(t);
      const keys: number[] = [];
      for (let j = 0; j <= pos; j++) if (window <= 0 || j > pos - window) keys.push(j);
      const scores = keys.map((j) => {
        const blk = b.blockTables.at(s, Math.floor(j / BS));
        let dot = 0;
        for (let d = 0; d < HD; d++) dot += q.at(t, h, d) * kc.at(blk, j % BS, Math.floor(h / G), d);
        const sc = dot * scale;
        return softcap > 0 ? softcap * Math.tanh(sc / softcap) : sc;
      });
      const sink = sinks ? sinks.at(h) : -Infinity;
      const mx = Math.max(sink, ...scores);
      const w = scores.map((x) => Math.exp(x - mx));
      const z = w.reduce((a, c) => a + c, Math.exp(sink - mx));
      for (let d = 0; d < HD; d++) {
        let acc = 0;
        keys.forEach((j, i) => (acc += w[i] * vc.at(b.blockTables.at(s, Math.floor(j / BS)), j % BS, Math.floor(h / G), d)));
        out.put(t, h, d, (acc / z) * vScale);
      }
    }
  return out;
}

for (let i = 0; i < irs.length; i += 2) {
  const [attn, write] = [irs[i], irs[i + 1]];
  const { A, C = A, HD, BS, G, SINKS = 0 } = grid[i / 2];
  const HKV = 2;
  const lengths = [1, BS - 1, BS, BS + 1, 2 * BS + 1];
  const queries = [1, BS - 1, 1, 3, 1];
  for (const variant of [{ softcap: 0, window: 0, vScale: 1 }, { softcap: 30, window: BS + 2, vScale: 0.75 }]) {
    test(`${attn.symbol} softcap=${variant.softcap} window=${variant.window} vScale=${variant.vScale} sinks=${SINKS}: compiled, emulated and naive agree`, () => {
      const b = makeBatch(lengths, queries, BS);
      const T = b.seqIdx.shape[0];
      const q = randomGlobal(A, [T, HKV * G, HD], 1);
      const kc = randomGlobal(C, [b.numBlocks, BS, HKV, HD], 1);
      const vc = randomGlobal(C, [b.numBlocks, BS, HKV, HD], 1);
      const out = new Global(A, [T, HKV * G, HD]);
      const sinks = randomGlobal(A, [HKV * G], 2);
      const scale = 1 / Math.sqrt(HD);
      const args = [q, kc, vc, b.blockTables, b.seqIdx, b.positions, out, sinks, scale, variant.softcap, variant.window, variant.vScale, BS, HD, G, SINKS];
      const emulate = A !== "f32" ? false : HD === 64 && G === 4;
      checkAgainstReference(pagedAttention, attn, native(attn), args, tolerance[A], { emulate });
      runReference(pagedAttention, args);
      assertClose(out, naiveAttention(q, kc, vc, b, scale, variant.softcap, variant.window, variant.vScale, G, SINKS ? sinks : null), tolerance[A], "DSL reference vs naive attention");
    });
  }
  test(`${write.symbol} writes every token to its slot and nothing else`, () => {
    const b = makeBatch(lengths, queries, BS);
    const T = b.seqIdx.shape[0];
    b.slotMapping.put(0, -1);
    const [k, v, kCache, vCache] = [randomGlobal(A, [T, HKV, HD]), randomGlobal(A, [T, HKV, HD]), randomGlobal(C, [b.numBlocks, BS, HKV, HD]), randomGlobal(C, [b.numBlocks, BS, HKV, HD])];
    const args = [k, v, kCache, vCache, b.slotMapping, 0.5, 4, BS, HD];
    checkAgainstReference(kvWrite, write, native(write), args, C === "fp8e4m3" ? { abs: 0, rel: 0 } : tolerance[A], { emulate: A === "f32" && HD === 64 });
    runReference(kvWrite, args);
    const round = kCache.dtype.round;
    for (let t = 1; t < T; t++) {
      const slot = b.slotMapping.at(t);
      for (let h = 0; h < HKV; h++)
        for (let d = 0; d < HD; d++) {
          assert.is(kCache.at(Math.floor(slot / BS), slot % BS, h, d), round(Math.fround(k.at(t, h, d) / 0.5)), `k[${t}, ${h}, ${d}] / kScale`);
          assert.is(vCache.at(Math.floor(slot / BS), slot % BS, h, d), round(Math.fround(v.at(t, h, d) / 4)), `v[${t}, ${h}, ${d}] / vScale`);
        }
    }
  });
}

// The fp8 caches' f32 writes (HD 64): f32 keys reach the rounding unrounded.
const dtypeOf = (ir: (typeof irs)[number], name: string) => (ir.params.find((p) => p.name === name) as { dtype: string }).dtype;
const fp8Writes = irs.filter((ir) => ir.name === "kvWrite" && dtypeOf(ir, "k") === "f32" && dtypeOf(ir, "kCache").startsWith("fp8"));
for (const write of fp8Writes) {
  test(`${write.symbol}: every code, tie and hair either side of one rounds as dsl/dtype.ts`, () => {
    const C = dtypeOf(write, "kCache") as "fp8e4m3" | "fp8e5m2";
    const toValue = C === "fp8e4m3" ? fp8e4m3BitsToF32 : fp8e5m2BitsToF32;
    const values: number[] = [];
    for (let bits = 0; bits < 255; bits++) {
      const [v, next] = [toValue(bits), toValue(bits + 1)];
      if (!Number.isFinite(v) || !Number.isFinite(next) || bits === 0x7f) continue;
      const mid = (v + next) / 2;
      values.push(v, mid, Math.fround(mid * (1 + 2 ** -20)), Math.fround(mid * (1 - 2 ** -20)));
    }
    values.push(1e6, -1e6, NaN);
    const [BS, HD, HKV] = [16, 64, 2];
    const T = Math.ceil(values.length / (HKV * HD));
    const k = new Global("f32", [T, HKV, HD], Float32Array.from({ length: T * HKV * HD }, (_, i) => values[i % values.length]));
    const slots = new Global("i32", [T], Int32Array.from({ length: T }, (_, t) => t));
    const cache = () => new Global(C, [Math.ceil(T / BS), BS, HKV, HD]);
    const args = [k, k, cache(), cache(), slots, 1, 1, BS, HD];
    checkAgainstReference(kvWrite, write, native(write), args, { abs: 0, rel: 0 }, { emulate: true });
    runReference(kvWrite, args);
    const round = C === "fp8e4m3" ? float8e4m3.round : float8e5m2.round;
    (args[2] as Global).data.forEach((stored, i) => {
      if (i < k.data.length) assert.ok(Object.is(stored, round(k.data[i])) || (Number.isNaN(stored) && Number.isNaN(k.data[i])), `${k.data[i]} stored as ${stored}`);
    });
  });
}

test.run();
