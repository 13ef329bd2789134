// `tsvllm bench throughput`: vLLM's offline throughput benchmark (random dataset, seeded; output
// "Throughput: X requests/s, Y total tokens/s, Z output tokens/s"), run on tsvllm and, in the same
// run on the same GGUF weights and requests, on llama.cpp (node-llama-cpp, parallel sequences),
// then the ratio. llama.cpp runs with 1 thread and with --threads: its workers busy-wait, and on a
// 2-core machine two of them fight the Node thread that drives it, so ratios are taken against its
// better run.
// Every engine stays loaded and the measurements go phase by phase (batched, single-stream,
// prefill), each engine in turn, because this VM's read bandwidth moves between about 35 and
// 65 GB/s from one minute to the next: when one engine ran all its measurements before the other,
// the single-stream ratio measured the machine's mood (TinyLlama f32: 0.77x with our runs at
// 35 GB/s and llama.cpp's at 61-64). Single-stream decode (one request alone; tokens after the
// first over the time from the first token to the last, so the prompt's prefill is not counted;
// --output-len tokens, at least 64) runs in rounds that alternate the engines, each run between
// two read-bandwidth probes: the ratio is the median over rounds of the ratio within a round, and
// each run's bandwidth fraction is against the higher of the probes right before and after it. A
// probe reads an array as large as the weights five times: decode streams its weights every step,
// so the bar is the rate over all five reads together (sustained); the best one alone, printed
// beside it, catches a lull in the other tenants' traffic (2 GB reads back to back: 54-66 GB/s
// each, 59.5 together).
import type { SpeculativeArgs } from "../runtime/engine/speculative.ts";
import { measureMachineReference, measureReadBandwidth } from "./reference/roofline.ts";
import { openLlamaCpp, openOurs, type BenchEngine } from "./throughput-engines.ts";

/** Single-stream rounds: each engine times one request alone per round (one short run on this
 *  noisy 2-core machine swung by 30%; with three rounds of 15 TinyLlama tokens the f16 median
 *  bandwidth fraction read 78.9% in one run and 89.1% in another of the same build). */
const singleStreamRounds = 5;

/** Tokens each single-stream run generates, at least: 15 decode steps of TinyLlama f16 took 0.55 s,
 *  a third of the bandwidth probe on either side of it. */
const minSingleStreamTokens = 64;

const singleStreamTokens = (o: ThroughputOptions) => Math.max(o.outputLen, minSingleStreamTokens);

/** The bandwidth probe reads an array as large as the weights (far past the caches either way),
 *  capped at 2 GiB so that it fits beside both engines' copies of an f32 model. */
const probeMiB = (weightBytes: number) => Math.min(2048, Math.max(256, Math.round(weightBytes / 2 ** 20)));

export interface ThroughputOptions {
  model: string;
  /** The GGUF the llama.cpp peer runs (the same weights); omitted: no peer. */
  peerGguf?: string;
  numPrompts: number;
  inputLen: number;
  outputLen: number;
  seed: number;
  /** CPU threads for both engines. */
  threads: number;
  /** Bytes of weights read per decode step (all but a token embedding looked up row by row), for the
   *  bandwidth fraction: the read bandwidth is then probed beside every single-stream run. */
  weightBytes?: number;
  /** The same for the llama.cpp peer, which reads the GGUF's blocks as stored (weightBytes if absent). */
  peerWeightBytes?: number;
  /** FLOPs per prompt token in the layers' matmuls (2 x their parameters), for the FMA-peak fraction. */
  prefillFlopsPerToken?: number;
  /** Also run our engine verifying n-gram drafts (vLLM's --speculative-config), beside its run without; the peer runs without. */
  speculativeConfig?: SpeculativeArgs;
}

interface EngineResult {
  engine: BenchEngine;
  outputTokens: number;
  batchedSeconds: number;
  /** Single-stream decode tokens/s, one per round. */
  singleStream: number[];
  /** The sustained read rate (GB/s) each single-stream run is measured against, one per round. */
  sustainedBandwidth: number[];
  /** The best repetition of the same probes (GB/s), one per round. */
  peakBandwidth: number[];
  prefillSeconds: number;
}

export function randomPrompts(n: number, len: number, vocab: number, seed: number): number[][] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
  // Skip the first ids: special tokens (unk, bos, eos) live there in every vocabulary used here.
  return Array.from({ length: n }, () => Array.from({ length: len }, () => 3 + (next() % (vocab - 3))));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** How long the machine idles before each timed run: an engine that just ran may still have
 *  worker threads polling for work (llama.cpp's spin a while before they sleep), and on 2 cores
 *  they would take a core from the next run. */
const settleMilliseconds = 250;
const settle = () => new Promise((resolve) => setTimeout(resolve, settleMilliseconds));

async function seconds(work: () => Promise<unknown>): Promise<number> {
  await settle();
  const start = performance.now();
  await work();
  return (performance.now() - start) / 1000;
}

async function openEngines(o: ThroughputOptions): Promise<BenchEngine[]> {
  const ours = { model: o.model, threads: o.threads, maxNumSeqs: Math.max(o.numPrompts, 1), maxNumBatchedTokens: Math.max(2048, o.inputLen) };
  const engines = [await openOurs(ours)];
  if (o.speculativeConfig) engines.push(await openOurs({ ...ours, speculativeConfig: o.speculativeConfig }));
  if (o.peerGguf) engines.push(...(await openLlamaCpp({ gguf: o.peerGguf, threads: [...new Set([1, o.threads])], sequences: o.numPrompts, sequenceLength: o.inputLen + singleStreamTokens(o) })));
  return engines;
}

/** Every measurement, phase by phase, engines in turn. */
async function measure(o: ThroughputOptions, engines: BenchEngine[], prompts: number[][], prefillPrompts: number[][]): Promise<EngineResult[]> {
  const results = engines.map((engine): EngineResult => ({ engine, outputTokens: 0, batchedSeconds: 0, singleStream: [], sustainedBandwidth: [], peakBandwidth: [], prefillSeconds: 0 }));
  for (const e of engines) await e.batched([prompts[0].slice(0, 8)], 4);  // warm-up
  for (const r of results) r.batchedSeconds = await seconds(async () => (r.outputTokens = await r.engine.batched(prompts, o.outputLen)));
  const idle = { t1: 0, t2: 0 };
  const probe = () => (o.weightBytes ? measureReadBandwidth({ arrayMiB: probeMiB(o.weightBytes), repetitions: 5 }) : { readBandwidthGBs: idle, sustainedReadGBs: idle });
  await settle();
  let before = probe();
  for (let round = 0; round < singleStreamRounds; round++) {
    // Each round starts with the next engine, so none always runs right after the probe of a round's start.
    for (let i = 0; i < results.length; i++) {
      const r = results[(round + i) % results.length];
      await settle();
      r.singleStream.push(await r.engine.singleStream(prompts[round % prompts.length], singleStreamTokens(o)));
      await settle();
      const after = probe();
      const key = r.engine.threads >= 2 ? "t2" : "t1";
      r.sustainedBandwidth.push(Math.max(before.sustainedReadGBs[key], after.sustainedReadGBs[key]));
      r.peakBandwidth.push(Math.max(before.readBandwidthGBs[key], after.readBandwidthGBs[key]));
      before = after;
    }
  }
  for (const r of results) r.prefillSeconds = await seconds(() => r.engine.batched(prefillPrompts, 1));
  return results;
}

function report(o: ThroughputOptions, results: EngineResult[], prompts: number[][]): string[] {
  const lines: string[] = [];
  const outputRate = (r: EngineResult) => r.outputTokens / r.batchedSeconds;
  const prefillRate = (r: EngineResult) => (prompts.length * o.inputLen) / r.prefillSeconds;
  const fixed = (values: number[], digits = 1) => values.map((v) => v.toFixed(digits)).join(", ");
  for (const r of results) {
    const totalTokens = r.outputTokens + prompts.length * o.inputLen;
    lines.push(`${r.engine.name}: Throughput: ${(prompts.length / r.batchedSeconds).toFixed(2)} requests/s, ${(totalTokens / r.batchedSeconds).toFixed(2)} total tokens/s, ${outputRate(r).toFixed(2)} output tokens/s; single-stream decode ${fixed(r.singleStream)} tokens/s (rounds)`);
  }
  const [ours, ...others] = results;
  const drafted = others.find((r) => r.engine.drafts);
  const peers = others.filter((r) => r !== drafted);
  /** Per round, this engine's single-stream rate over the better of `against`'s in the same round. */
  const roundRatios = (r: EngineResult, against: EngineResult[]) => r.singleStream.map((rate, round) => rate / Math.max(...against.map((a) => a.singleStream[round])));
  const singleRatio = (r: EngineResult, against: EngineResult[], who: string) => {
    const ratios = roundRatios(r, against);
    return `single-stream decode ${median(ratios).toFixed(2)}x (median of the rounds' ${fixed(ratios, 2)}, against ${who} in the same round)`;
  };
  if (drafted?.engine.drafts) {
    const { proposed, accepted } = drafted.engine.drafts();
    lines.push(`speculative decoding: ${accepted} of ${proposed} draft tokens accepted (${((accepted / Math.max(proposed, 1)) * 100).toFixed(1)}%); against the run without drafts: output tokens/s ${(outputRate(drafted) / outputRate(ours)).toFixed(2)}x, ${singleRatio(drafted, [ours], "tsvllm without drafts")} (llama.cpp runs without drafts)`);
  }
  if (peers.length) {
    const bestOutput = Math.max(...peers.map(outputRate));
    const bestPrefill = Math.max(...peers.map(prefillRate));
    lines.push(`ratio tsvllm / best llama.cpp: output tokens/s ${(outputRate(ours) / bestOutput).toFixed(2)}x, ${singleRatio(ours, peers, "the better llama.cpp run")}, prefill ${(prefillRate(ours) / bestPrefill).toFixed(2)}x`);
    if (drafted) lines.push(`ratio tsvllm with n-gram drafts / best llama.cpp: output tokens/s ${(outputRate(drafted) / bestOutput).toFixed(2)}x, ${singleRatio(drafted, peers, "the better llama.cpp run")}`);
  }
  if (o.weightBytes) {
    for (const r of [ours, ...peers]) {
      const bytes = r === ours ? o.weightBytes : o.peerWeightBytes ?? o.weightBytes;
      const achieved = r.singleStream.map((rate) => (rate * bytes) / 1e9);
      const percentOf = (bandwidth: number[]) => achieved.map((gbs, round) => (gbs / bandwidth[round]) * 100);
      const sustained = percentOf(r.sustainedBandwidth);
      const peak = percentOf(r.peakBandwidth);
      lines.push(`${r.engine.name} single-stream decode reads ${(bytes / 1e6).toFixed(1)} MB of weights per token: ${fixed(achieved)} GB/s; ${fixed(sustained)}% (median ${median(sustained).toFixed(1)}%) of the ${Math.min(r.engine.threads, 2)}-thread sustained read rate of a ${probeMiB(o.weightBytes)} MiB array probed right around each run (the higher probe: ${fixed(r.sustainedBandwidth)} GB/s); ${fixed(peak)}% (median ${median(peak).toFixed(1)}%) of those probes' best repetition (${fixed(r.peakBandwidth)} GB/s)`);
    }
  }
  if (o.prefillFlopsPerToken) {
    const peak = measureMachineReference({ arrayMiB: 256, repetitions: 3 }).fmaPeakGflops[o.threads >= 2 ? "t2" : "t1"];
    const gflops = (prefillRate(ours) * o.prefillFlopsPerToken) / 1e9;
    const peer = peers.length ? `, llama.cpp ${Math.max(...peers.map(prefillRate)).toFixed(1)}` : "";
    lines.push(`prefill (${prompts.length} new prompts x ${o.inputLen} tokens, one output token each): tsvllm ${prefillRate(ours).toFixed(1)} prompt tokens/s${peer}; tsvllm's layer matmuls (${(o.prefillFlopsPerToken / 1e6).toFixed(2)} MFLOP a token; attention not counted) run at ${gflops.toFixed(1)} GFLOP/s, ${((gflops / peak) * 100).toFixed(1)}% of the ${peak.toFixed(1)} GFLOP/s ${Math.min(o.threads, 2)}-thread FMA peak measured now`);
  }
  return lines;
}

export async function benchThroughput(o: ThroughputOptions, vocabSize: number): Promise<string[]> {
  const prompts = randomPrompts(o.numPrompts, o.inputLen, vocabSize, o.seed);
  // Prompts not seen before: the engine's prefix cache still holds the first ones' blocks.
  const prefillPrompts = randomPrompts(o.numPrompts, o.inputLen, vocabSize, o.seed + 1);
  const engines = await openEngines(o);
  try {
    return report(o, await measure(o, engines, prompts, prefillPrompts), prompts);
  } finally {
    for (const e of engines) await e.close();
  }
}
