// sampleRows (dsl/kernels/sampling.ts): the compiled kernel and its GPU lowering in the emulator
// against the DSL reference, token for token; and the reference against a float64 oracle written
// from the kernel's contract with a sort (min_p, top_k and top_p floors on x = logit / temperature,
// ties at a cut kept, then the first vocabulary index whose running kept mass exceeds u times the
// total). Draws whose u lies within 1e-4 of the oracle's cumulative mass at a token boundary (or
// whose top_p mass lands that close to top_p) are left out of the oracle comparison, where f32
// sums may honestly round either way; the test asserts they are few.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Global } from "../../dsl/global.ts";
import { sampleRows } from "../../dsl/kernels/sampling.ts";
import { buildKernels, checkAgainstReference, randomGlobal, runReference } from "../support/kernel-harness.ts";

const { irs, native } = buildKernels("test_sample_rows", [{ file: "dsl/kernels/sampling.ts", exportName: "sampleRows", spec: { dtypes: {}, consts: {} } }]);
const ir = irs[0];

interface RowParams {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  uniform: number;
}

/** The grid of parameters each logits row is sampled under: greedy, plain, and each filter alone and together. */
function paramGrid(draws: number): RowParams[] {
  const out: RowParams[] = [];
  let seed = 7;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const temperature of [0, 0.6, 1.3])
    for (const topK of [0, 1, 5, 40])
      for (const topP of [1, 0.9, 0.35])
        for (const minP of [0, 0.08])
          for (let d = 0; d < draws; d++) out.push({ temperature, topK, topP, minP, uniform: Math.fround(next()) });
  return out;
}

interface Case {
  args: [Global, Global, Global, Global, Global, Global, Global, Global];
  params: RowParams[];
  rowOf: number[];
}

/** numLogitRows random rows (some with ties at the top and in the middle), each sampled under every parameter set. */
function makeCase(numLogitRows: number, V: number, draws: number): Case {
  const logits = randomGlobal("f32", [numLogitRows, V], 4);
  for (let l = 0; l < numLogitRows; l++) {
    if (l % 2 === 1) {
      // Ties: a shared maximum and a run of equal values around the k = 5 cut.
      logits.put(l, 3, 4.5);
      logits.put(l, 11, 4.5);
      for (const i of [20, 21, 22, 23]) logits.put(l, i, 3.9);
    }
  }
  const grid = paramGrid(draws);
  const params = Array.from({ length: numLogitRows }, () => grid).flat();
  const rowOf = params.map((_, r) => Math.floor(r / grid.length));
  const R = params.length;
  const column = (dtype: "f32" | "i32", f: (p: RowParams) => number) => new Global(dtype, [R], dtype === "f32" ? Float32Array.from(params, f) : Int32Array.from(params, f));
  return {
    args: [logits, new Global("i32", [R], Int32Array.from(rowOf)), column("f32", (p) => p.temperature), column("i32", (p) => p.topK), column("f32", (p) => p.topP), column("f32", (p) => p.minP), column("f32", (p) => p.uniform), new Global("i32", [R])],
    params,
    rowOf,
  };
}

/** The kernel's contract in float64 with a sort; `margin` is how close the draw came to a boundary (relative to the mass). */
function oracle(z: number[], p: RowParams): { token: number; margin: number } {
  const V = z.length;
  if (p.temperature < 1e-5) return { token: z.indexOf(Math.max(...z)), margin: Infinity };
  const x = z.map((v) => Math.fround(v / p.temperature));
  const xMax = Math.max(...x);
  const w = x.map((v) => Math.exp(v - xMax));
  let floor = Math.min(...x.filter((_, i) => w[i] >= p.minP));
  if (p.topK > 0 && p.topK < V) floor = Math.max(floor, [...x].sort((a, b) => b - a)[p.topK - 1]);
  let margin = Infinity;
  if (p.topP < 1) {
    const kept = x.filter((v) => v >= floor).sort((a, b) => b - a);
    const total = kept.reduce((a, v) => a + Math.exp(v - xMax), 0);
    let mass = 0;
    for (const v of kept) {
      mass += Math.exp(v - xMax) / total;
      margin = Math.min(margin, Math.abs(mass - p.topP));
      if (mass >= p.topP) {
        floor = Math.max(floor, v);
        break;
      }
    }
  }
  const total = w.reduce((a, v, i) => a + (x[i] >= floor ? v : 0), 0);
  const target = p.uniform * total;
  let running = 0;
  for (let i = 0; i < V; i++) {
    if (x[i] < floor) continue;
    running += w[i];
    margin = Math.min(margin, Math.abs(running - target) / total);
    if (running > target) return { token: i, margin };
  }
  return { token: x.map((v, i) => (v >= floor ? i : -1)).reduce((a, b) => Math.max(a, b)), margin };
}

test("sampleRows: compiled and emulated GPU lowering equal the reference, token for token", () => {
  const small = makeCase(2, 48, 1);
  checkAgainstReference(sampleRows, ir, native(ir), small.args, { abs: 0, rel: 0 }, { emulate: true });
  const large = makeCase(3, 1000, 3);
  checkAgainstReference(sampleRows, ir, native(ir), large.args, { abs: 0, rel: 0 });
});

test("sampleRows: the reference draws what the float64 contract draws, away from rounding boundaries", () => {
  const c = makeCase(4, 300, 4);
  runReference(sampleRows, c.args);
  const [logits, , , , , , , out] = c.args;
  let compared = 0;
  c.params.forEach((p, r) => {
    const z = Array.from({ length: logits.shape[1] }, (_, i) => logits.at(c.rowOf[r], i));
    const { token, margin } = oracle(z, p);
    if (margin < 1e-4) return;
    compared++;
    assert.is(out.at(r), token, `row ${r}: ${JSON.stringify(p)}`);
  });
  assert.ok(compared >= 0.98 * c.params.length, `${compared} of ${c.params.length} draws away from a boundary`);
});

test("sampleRows: ties at the top_k cut are all kept, and top_k = 1 or top_p near 0 is greedy", () => {
  const V = 40;
  const z = Array.from({ length: V }, (_, i) => (i < 3 ? 2 : i < 8 ? 1 : -1));
  const uniforms = Array.from({ length: 64 }, (_, d) => (d + 0.5) / 64);
  const rows: RowParams[] = [
    ...uniforms.map((uniform) => ({ temperature: 1, topK: 4, topP: 1, minP: 0, uniform })),
    ...uniforms.map((uniform) => ({ temperature: 1, topK: 1, topP: 1, minP: 0, uniform })),
    ...uniforms.map((uniform) => ({ temperature: 1, topK: 0, topP: 0.01, minP: 0, uniform })),
  ];
  const R = rows.length;
  const out = new Global("i32", [R]);
  const f32 = (f: (p: RowParams) => number) => new Global("f32", [R], Float32Array.from(rows, f));
  const args = [new Global("f32", [1, V], Float32Array.from(z)), new Global("i32", [R]), f32((p) => p.temperature), new Global("i32", [R], Int32Array.from(rows, (p) => p.topK)), f32((p) => p.topP), f32((p) => p.minP), f32((p) => p.uniform), out] as const;
  checkAgainstReference(sampleRows, ir, native(ir), [...args], { abs: 0, rel: 0 });
  runReference(sampleRows, [...args]);
  const drawn = (from: number) => new Set(Array.from({ length: 64 }, (_, d) => out.at(from + d)));
  // k = 4 cuts inside the run of 1s (indices 3..7): all eight tokens at or above the cut stay.
  assert.equal([...drawn(0)].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);
  // k = 1 keeps the three tied maxima; top_p = 0.01 reaches its mass at the first of them, and ties keep all three.
  assert.equal([...drawn(64)].sort((a, b) => a - b), [0, 1, 2]);
  assert.equal([...drawn(128)].sort((a, b) => a - b), [0, 1, 2]);
});

test.run();
