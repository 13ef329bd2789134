// CPU kernel speed against this machine's own limits, measured in the same run (docs/PERF.md):
//   - dense matmul (prefill-shaped) and causal prefill attention: GFLOP/s as a fraction of the fp32
//     FMA peak;
//   - decode-shaped matvec (T = 1) with f32 and f16 weights, and a decode token's attention over a
//     long context (Llama-3-8B heads and multi-head): weights' or KV's GB/s as a fraction of the
//     streaming read bandwidth;
//   - batched decode (T = 8..32, f16 weights): against whichever of the two limits binds;
// each with 1 and 2 threads (the addon's setNumThreads). The machine reference is measured before
// and after the kernels and the higher of the two is used, so a neighbour's load during one
// measurement cannot inflate the fractions. Times are benchmark.js's fastest sample.
//   npx tsx bench/kernels.bench.ts
import Benchmark from "benchmark";
import { buildAddon, loadAddon } from "../codegen/build/addon.ts";
import { packArguments, type NativeKernel } from "../codegen/build/launch.ts";
import { compileKernel } from "../codegen/compile.ts";
import type { KernelIR } from "../codegen/ir/types.ts";
import { Global } from "../dsl/global.ts";
import { panelWidth } from "../dsl/kernels/matmul-blocked.ts";
import type { HostMemoryAddon } from "../runtime/model/weights.ts";
import { measureMachineReference, type MachineReference } from "./reference/roofline.ts";

interface Case {
  name: string;
  ir: KernelIR;
  /** Launches cycle through these argument sets (several weight copies keep a matvec out of L3). */
  argSets: (Global | number)[][];
  /**
   * FLOPs per launch (compute-bound cases), bytes of weights read (memory-bound cases), or both
   * (small-batch decode, bound by whichever takes longer: reported against that roofline).
   */
  work: { flops: number } | { bytes: number } | { flops: number; bytes: number };
}

/** Deterministic values in [-1, 1): benchmarks need realistic magnitudes, not randomness. */
function filled(dtype: "f32" | "f16", shape: number[]): Global {
  const g = new Global(dtype, shape);
  for (let i = 0; i < g.data.length; i++) g.data[i] = g.dtype.round(((i * 2654435761) % 2048) / 1024 - 1);
  return g;
}

const hidden = 4096;
const prefillTokens = 512;

/** Matvec weights rotate over this many copies (4 x 64 MB for f32), like the layers of a decode step. */
const weightCopies = 4;

function matmulCase(name: string, exportName: string, T: number, W: "f32" | "f16"): Case {
  const ir = compileKernel(`dsl/kernels/${exportName === "matmul" ? "matmul" : "matmul-blocked"}.ts`, exportName, { dtypes: { A: "f32", W }, consts: { K: hidden } });
  const x = filled("f32", [T, hidden]);
  const out = new Global("f32", [T, hidden]);
  const decode = T <= 32;
  // matmulBlocked reads the weight packed into panels (the layout the model loader writes).
  const weightShape = exportName === "matmul" ? [hidden, hidden] : [hidden / panelWidth, hidden, panelWidth];
  const argSets = Array.from({ length: decode ? weightCopies : 1 }, () => [x, filled(W, weightShape), out, hidden]);
  const bytes = hidden * hidden * (W === "f32" ? 4 : 2);
  const flops = 2 * T * hidden * hidden;
  const work = T === 1 ? { bytes } : decode ? { bytes, flops } : { flops };
  return { name, ir, argSets, work };
}

/** One sequence prefilling `prefillTokens` tokens, Llama-3-8B heads: 32 query heads, 8 KV heads of 128. */
function attentionCase(file: string, exportName: string): Case {
  const [HQ, HKV, HD, BS] = [32, 8, 128, 16];
  const T = prefillTokens;
  const ir = compileKernel(`dsl/kernels/${file}.ts`, exportName, { dtypes: { A: "f32", C: "f32", W: "f32" }, consts: { BS, HD, G: HQ / HKV, SINKS: 0 } });
  const blocks = Math.ceil(T / BS);
  const blockTables = new Global("i32", [1, blocks], Int32Array.from({ length: blocks }, (_, b) => b));
  const positions = new Global("i32", [T], Int32Array.from({ length: T }, (_, t) => t));
  const args = [
    filled("f32", [T, HQ, HD]), filled("f32", [blocks, BS, HKV, HD]), filled("f32", [blocks, BS, HKV, HD]), blockTables,
    new Global("i32", [T]), positions, new Global("f32", [T, HQ, HD]), new Global("f32", [HQ]), 1 / Math.sqrt(HD), 0, 0, 1, BS, HD, HQ / HKV, 0,
  ];
  // q k^T and p v: 2 FLOPs per multiply-add each, over the causal triangle.
  const flops = 4 * HD * HQ * ((T * (T + 1)) / 2);
  return { name: `prefill attention T=${T} HQ=${HQ} HKV=${HKV} HD=${HD} (${exportName})`, ir, argSets: [args], work: { flops } };
}

/** Decode tokens this far into their sequences read this many positions of keys and values. */
const decodePosition = 2000;

/** One token decoding at decodePosition over an f16 cache: the KV bytes it reads, against the read
 *  bandwidth (copies of the cache rotate, like the layers of a step, so they come from memory). */
function decodeAttentionCase(HQ: number, HKV: number, HD: number): Case {
  const BS = 16;
  const ir = compileKernel("dsl/kernels/paged-attention-tiled.ts", "pagedAttentionTiled", { dtypes: { A: "f32", C: "f16", W: "f32" }, consts: { BS, HD, G: HQ / HKV, SINKS: 0 } });
  const blocks = Math.ceil((decodePosition + 1) / BS);
  const blockTables = new Global("i32", [1, blocks], Int32Array.from({ length: blocks }, (_, b) => b));
  const argSets = Array.from({ length: 2 * weightCopies }, () => [
    filled("f32", [1, HQ, HD]), filled("f16", [blocks, BS, HKV, HD]), filled("f16", [blocks, BS, HKV, HD]), blockTables,
    new Global("i32", [1]), new Global("i32", [1], Int32Array.of(decodePosition)), new Global("f32", [1, HQ, HD]), new Global("f32", [HQ]), 1 / Math.sqrt(HD), 0, 0, 1, BS, HD, HQ / HKV, 0,
  ]);
  const bytes = 2 * (decodePosition + 1) * HKV * HD * 2;
  return { name: `decode attention at position ${decodePosition} HQ=${HQ} HKV=${HKV} HD=${HD} f16 cache (pagedAttentionTiled)`, ir, argSets, work: { bytes } };
}

const cases: Case[] = [
  matmulCase(`matmul T=${prefillTokens} ${hidden}x${hidden} f32 (matmulBlocked)`, "matmulBlocked", prefillTokens, "f32"),
  matmulCase(`matmul T=64 ${hidden}x${hidden} f32 (matmul, one program per output)`, "matmul", 64, "f32"),
  attentionCase("paged-attention-tiled", "pagedAttentionTiled"),
  attentionCase("paged-attention", "pagedAttention"),
  decodeAttentionCase(32, 8, 128),
  decodeAttentionCase(32, 32, 128),
  matmulCase(`matvec T=1 ${hidden}x${hidden} f32 weights (matmulBlocked)`, "matmulBlocked", 1, "f32"),
  matmulCase(`matvec T=1 ${hidden}x${hidden} f16 weights (matmulBlocked)`, "matmulBlocked", 1, "f16"),
  matmulCase(`matvec T=1 ${hidden}x${hidden} f32 weights (matmul)`, "matmul", 1, "f32"),
  ...[8, 16, 32].map((T) => matmulCase(`batched decode T=${T} ${hidden}x${hidden} f16 weights (matmulBlocked)`, "matmulBlocked", T, "f16")),
];

interface Row {
  name: string;
  threads: 1 | 2;
  seconds: number;
  work: Case["work"];
}

type BenchAddon = HostMemoryAddon & { kernels: Record<string, NativeKernel>; setNumThreads(n: number): void };

/** A launch's buffers copied onto huge pages, where the engine keeps weights and KV: on a JS array's
 *  4 KB pages the hardware prefetcher stops at every page, so memory-bound kernels measured there
 *  do not behave as in the model (a software prefetch in decode gained 6-18% on JS arrays and cost
 *  4-7% in the model). */
function onHugePages(launch: ReturnType<typeof packArguments>, addon: HostMemoryAddon): ReturnType<typeof packArguments> {
  const buffers = launch.buffers.map((view) => {
    const memory = addon.allocateHostBuffer(view.byteLength);
    new Uint8Array(memory).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return new (view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView)(memory);
  });
  return { ...launch, buffers };
}

function run(addon: BenchAddon, threads: 1 | 2): Row[] {
  addon.setNumThreads(threads);
  const rows: Row[] = [];
  const suite = new Benchmark.Suite();
  for (const c of cases) {
    const launches = c.argSets.map((args) => onHugePages(packArguments(c.ir, args), addon));
    const kernel = addon.kernels[c.ir.symbol];
    let next = 0;
    suite.add(c.name, () => {
      const { buffers, scalars, dims } = launches[next++ % launches.length];
      kernel(buffers, scalars, dims);
    }, { minSamples: 5, maxTime: 2 });
  }
  suite.on("cycle", (event: Benchmark.Event) => {
    const bench = event.target as unknown as Benchmark & { name: string };
    const c = cases.find((x) => x.name === bench.name)!;
    rows.push({ name: c.name, threads, seconds: Math.min(...bench.stats.sample), work: c.work });
    process.stderr.write(`  ${threads} thread${threads > 1 ? "s" : ""}: ${c.name} done\n`);
  });
  suite.run({ async: false });
  return rows;
}

const higher = (a: { t1: number; t2: number }, b: { t1: number; t2: number }) => ({ t1: Math.max(a.t1, b.t1), t2: Math.max(a.t2, b.t2) });

function best(a: MachineReference, b: MachineReference): MachineReference {
  return { fmaPeakGflops: higher(a.fmaPeakGflops, b.fmaPeakGflops), readBandwidthGBs: higher(a.readBandwidthGBs, b.readBandwidthGBs), sustainedReadGBs: higher(a.sustainedReadGBs, b.sustainedReadGBs) };
}

/** The result against the limit that binds it: FMA peak, read bandwidth, or the slower of the two. */
function againstRoofline(r: Row, reference: MachineReference) {
  const key = r.threads === 1 ? "t1" : "t2";
  const flops = "flops" in r.work ? r.work.flops : 0;
  const bytes = "bytes" in r.work ? r.work.bytes : 0;
  const flopSeconds = flops / (reference.fmaPeakGflops[key] * 1e9);
  // A kernel's time is its best sample, so its bandwidth is set against the probe's best repetition.
  const byteSeconds = bytes / (reference.readBandwidthGBs[key] * 1e9);
  if (flopSeconds >= byteSeconds) return { rate: flops / r.seconds / 1e9, unit: "GFLOP/s", fraction: flopSeconds / r.seconds, of: "FMA peak" };
  return { rate: bytes / r.seconds / 1e9, unit: "GB/s", fraction: byteSeconds / r.seconds, of: "read bandwidth" };
}

const built = buildAddon({ name: "bench_kernels", kernels: cases.map((c) => c.ir) });
const addon = loadAddon<BenchAddon>(built.path);
const before = measureMachineReference();
const rows = [...run(addon, 1), ...run(addon, 2)];
const reference = best(before, measureMachineReference());

console.log(`machine: fp32 FMA peak ${reference.fmaPeakGflops.t1.toFixed(1)} / ${reference.fmaPeakGflops.t2.toFixed(1)} GFLOP/s, read bandwidth ${reference.readBandwidthGBs.t1.toFixed(1)} / ${reference.readBandwidthGBs.t2.toFixed(1)} GB/s (1 / 2 threads)`);
for (const r of rows) {
  const { rate, unit, fraction, of } = againstRoofline(r, reference);
  console.log(`${r.threads} thread${r.threads > 1 ? "s" : " "}  ${(r.seconds * 1e3).toFixed(2).padStart(9)} ms  ${rate.toFixed(1).padStart(6)} ${unit.padEnd(7)}  ${fraction.toFixed(2)} of ${of.padEnd(14)}  ${r.name}`);
}
