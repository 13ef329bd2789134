// `tsvllm bench throughput`: vLLM's offline throughput benchmark (random dataset, seeded; output
// "Throughput: X requests/s, Y total tokens/s, Z output tokens/s"), run on tsvllm and, in the same
// run on the same GGUF weights and requests, on llama.cpp (node-llama-cpp, parallel sequences),
// then the ratio. Single-stream decode is reported too (one request alone, best of three runs;
// tokens after the first over the time from the first token to the last, so the prompt's prefill
// is not counted), with its fraction of the machine's read bandwidth probed right before and after
// each of those runs, for both engines (the bandwidth of this 2-core VM drifts 2x within minutes),
// and prefill alone (every prompt for one output token) with its fraction of the machine's FMA peak.
// llama.cpp runs with 1 thread and with --threads: its workers busy-wait, and on a 2-core machine
// two of them fight the Node thread that drives it, so the ratios are taken against its better run
// of each measurement.
import type { SpeculativeArgs } from "../runtime/engine/speculative.ts";
import { LLM } from "../index.ts";
import { measureMachineReference, measureReadBandwidth } from "./reference/roofline.ts";

/** Single-stream decode is timed this many times per engine (a request alone each time) and the
 *  best run reported: one short run on this noisy 2-core machine swung by 30%. */
const singleStreamRuns = 3;

/** The best of singleStreamRuns single-stream decode rates, run r timing prompts[r mod length] alone;
 *  `beside` runs before the first run and after each. */
async function bestSingleStreamRate(prompts: number[][], rate: (prompt: number[]) => Promise<number>, beside = () => {}): Promise<number> {
  const rates: number[] = [];
  beside();
  for (let r = 0; r < singleStreamRuns; r++) {
    rates.push(await rate(prompts[r % prompts.length]));
    beside();
  }
  return Math.max(...rates);
}

/** Read-bandwidth probes (GB/s, threads as the engines run) taken beside single-stream runs. */
class BandwidthProbes {
  readonly readings: number[] = [];
  constructor(readonly threads: number) {}
  take = (): void => {
    const measured = measureReadBandwidth({ arrayMiB: 256, repetitions: 3 });
    this.readings.push(this.threads >= 2 ? measured.t2 : measured.t1);
  };
}

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
   *  bandwidth fraction: the read bandwidth is then probed beside our single-stream runs. */
  weightBytes?: number;
  /** FLOPs per prompt token in the layers' matmuls (2 x their parameters), for the FMA-peak fraction. */
  prefillFlopsPerToken?: number;
  /** Also run our engine verifying n-gram drafts (vLLM's --speculative-config), beside its run without; the peer runs without. */
  speculativeConfig?: SpeculativeArgs;
}

export interface ThroughputResult {
  requestsPerSecond: number;
  totalTokensPerSecond: number;
  outputTokensPerSecond: number;
  singleStreamTokensPerSecond: number;
  /** Prompt tokens per second with every prompt generating one token. */
  prefillTokensPerSecond: number;
  /** With speculative decoding: drafts proposed and accepted over the whole run. */
  drafts?: { proposed: number; accepted: number };
}

function randomPrompts(n: number, len: number, vocab: number, seed: number): number[][] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
  // Skip the first ids: special tokens (unk, bos, eos) live there in every vocabulary used here.
  return Array.from({ length: n }, () => Array.from({ length: len }, () => 3 + (next() % (vocab - 3))));
}

export const formatThroughput = (who: string, r: ThroughputResult) =>
  `${who}: Throughput: ${r.requestsPerSecond.toFixed(2)} requests/s, ${r.totalTokensPerSecond.toFixed(2)} total tokens/s, ${r.outputTokensPerSecond.toFixed(2)} output tokens/s; single-stream decode ${r.singleStreamTokensPerSecond.toFixed(1)} tokens/s`;

async function runOurs(o: ThroughputOptions, prompts: number[][], prefillPrompts: number[][], probes?: BandwidthProbes, speculativeConfig?: SpeculativeArgs): Promise<ThroughputResult> {
  const llm = await LLM.create({ model: o.model, maxNumSeqs: Math.max(o.numPrompts, 1), maxNumBatchedTokens: Math.max(2048, o.inputLen), numThreads: o.threads, speculativeConfig, logger: () => {} });
  const params = { maxTokens: o.outputLen, ignoreEos: true, temperature: 0 };
  await llm.generate([{ promptTokenIds: prompts[0].slice(0, 8) }], { ...params, maxTokens: 4 });
  const t0 = performance.now();
  const outs = await llm.generate(prompts.map((p) => ({ promptTokenIds: p })), params);
  const seconds = (performance.now() - t0) / 1000;
  const output = outs.reduce((a, r) => a + r.outputs[0].tokenIds.length, 0);
  const singleStreamTokensPerSecond = await bestSingleStreamRate(prompts, async (prompt) => {
    const [single] = await llm.generate([{ promptTokenIds: prompt }], params);
    const { firstTokenTime, lastTokenTime } = single.metrics;
    return (single.outputs[0].tokenIds.length - 1) / (lastTokenTime! - firstTokenTime!);
  }, probes?.take);
  const prefillStart = performance.now();
  await llm.generate(prefillPrompts.map((p) => ({ promptTokenIds: p })), { ...params, maxTokens: 1 });
  const prefillSeconds = (performance.now() - prefillStart) / 1000;
  const stats = llm.stats();
  llm.close();
  return {
    ...(speculativeConfig ? { drafts: { proposed: stats.specDecodeNumDraftTokens, accepted: stats.specDecodeNumAcceptedTokens } } : {}),
    requestsPerSecond: prompts.length / seconds,
    totalTokensPerSecond: (output + prompts.length * o.inputLen) / seconds,
    outputTokensPerSecond: output / seconds,
    singleStreamTokensPerSecond,
    prefillTokensPerSecond: (prompts.length * o.inputLen) / prefillSeconds,
  };
}

async function runLlamaCpp(o: ThroughputOptions, prompts: number[][], prefillPrompts: number[][], threads: number, probes?: BandwidthProbes): Promise<ThroughputResult> {
  const { getLlama } = await import("node-llama-cpp");
  const llama = await getLlama({ gpu: false, build: "never", skipDownload: true });
  const model = await llama.loadModel({ modelPath: o.peerGguf!, gpuLayers: 0 });
  const context = await model.createContext({ sequences: prompts.length, contextSize: prompts.length * (o.inputLen + o.outputLen + 16), threads, batchSize: Math.max(512, o.inputLen) });
  /** Generates maxTokens tokens; returns the count and the seconds from the first token to the last. */
  const generate = async (prompt: number[], maxTokens = o.outputLen) => {
    const seq = context.getSequence();
    let n = 0;
    let first = 0;
    for await (const _ of seq.evaluate(prompt as never, { temperature: 0 })) {
      if (n++ === 0) first = performance.now();
      if (n >= maxTokens) break;
    }
    const decodeSeconds = (performance.now() - first) / 1000;
    seq.dispose();
    return { n, decodeSeconds };
  };
  const t0 = performance.now();
  const counts = await Promise.all(prompts.map((p) => generate(p)));
  const seconds = (performance.now() - t0) / 1000;
  const output = counts.reduce((a, b) => a + b.n, 0);
  const singleStreamTokensPerSecond = await bestSingleStreamRate(prompts, async (prompt) => {
    const single = await generate(prompt);
    return (single.n - 1) / single.decodeSeconds;
  }, probes?.take);
  const prefillStart = performance.now();
  await Promise.all(prefillPrompts.map((p) => generate(p, 1)));
  const prefillSeconds = (performance.now() - prefillStart) / 1000;
  await context.dispose();
  await model.dispose();
  return {
    requestsPerSecond: prompts.length / seconds,
    totalTokensPerSecond: (output + prompts.length * o.inputLen) / seconds,
    outputTokensPerSecond: output / seconds,
    singleStreamTokensPerSecond,
    prefillTokensPerSecond: (prompts.length * o.inputLen) / prefillSeconds,
  };
}

export async function benchThroughput(o: ThroughputOptions, vocabSize: number): Promise<string[]> {
  const prompts = randomPrompts(o.numPrompts, o.inputLen, vocabSize, o.seed);
  // Prompts not seen before: the engine's prefix cache still holds the first ones' blocks.
  const prefillPrompts = randomPrompts(o.numPrompts, o.inputLen, vocabSize, o.seed + 1);
  const lines: string[] = [];
  const probes = o.weightBytes ? new BandwidthProbes(o.threads) : undefined;
  const ours = await runOurs(o, prompts, prefillPrompts, probes);
  const ourThreads = `${o.threads} thread${o.threads > 1 ? "s" : ""}`;
  lines.push(formatThroughput(`tsvllm (${ourThreads})`, ours));
  const drafted = o.speculativeConfig ? await runOurs(o, prompts, prefillPrompts, undefined, o.speculativeConfig) : undefined;
  if (drafted?.drafts) {
    const { proposed, accepted } = drafted.drafts;
    lines.push(formatThroughput(`tsvllm (${ourThreads}, n-gram speculative decoding)`, drafted));
    lines.push(`speculative decoding: ${accepted} of ${proposed} draft tokens accepted (${((accepted / Math.max(proposed, 1)) * 100).toFixed(1)}%); against the run without drafts: output tokens/s ${(drafted.outputTokensPerSecond / ours.outputTokensPerSecond).toFixed(2)}x, single-stream decode ${(drafted.singleStreamTokensPerSecond / ours.singleStreamTokensPerSecond).toFixed(2)}x (llama.cpp runs without drafts)`);
  }
  const runs: ThroughputResult[] = [];
  const peerProbes: BandwidthProbes[] = [];
  const bestPrefill = () => Math.max(...runs.map((r) => r.prefillTokensPerSecond));
  if (o.peerGguf) {
    for (const threads of new Set([1, o.threads])) {
      peerProbes.push(new BandwidthProbes(threads));
      runs.push(await runLlamaCpp(o, prompts, prefillPrompts, threads, o.weightBytes ? peerProbes[peerProbes.length - 1] : undefined));
      lines.push(formatThroughput(`llama.cpp (${threads} thread${threads > 1 ? "s" : ""})`, runs[runs.length - 1]));
    }
    const bestOutput = Math.max(...runs.map((r) => r.outputTokensPerSecond));
    const bestSingle = Math.max(...runs.map((r) => r.singleStreamTokensPerSecond));
    lines.push(`ratio tsvllm / best llama.cpp: output tokens/s ${(ours.outputTokensPerSecond / bestOutput).toFixed(2)}x, single-stream decode ${(ours.singleStreamTokensPerSecond / bestSingle).toFixed(2)}x, prefill ${(ours.prefillTokensPerSecond / bestPrefill()).toFixed(2)}x`);
    if (drafted) lines.push(`ratio tsvllm with n-gram drafts / best llama.cpp: output tokens/s ${(drafted.outputTokensPerSecond / bestOutput).toFixed(2)}x, single-stream decode ${(drafted.singleStreamTokensPerSecond / bestSingle).toFixed(2)}x`);
  }
  const key = o.threads >= 2 ? "t2" : "t1";
  const threadsNote = `${Math.min(o.threads, 2)}-thread`;
  if (o.weightBytes && probes) {
    // Against the best probe: the fraction is then a lower bound for the bandwidth at hand. The
    // peer's own fraction, from probes beside its runs, says how much room the machine left: this
    // VM's 2-thread read bandwidth moves between about 35 and 65 GB/s from one minute to the next.
    const reads = (who: string, tokensPerSecond: number, readings: number[], threads: number) => {
      const achieved = (tokensPerSecond * o.weightBytes!) / 1e9;
      return `${who} single-stream decode reads ${(o.weightBytes! / 1e6).toFixed(1)} MB of weights per token, ${achieved.toFixed(1)} GB/s: ${((achieved / Math.max(...readings)) * 100).toFixed(1)}% of the best ${Math.min(threads, 2)}-thread read bandwidth probed beside its runs (${readings.map((r) => r.toFixed(1)).join(", ")} GB/s)`;
    };
    lines.push(reads("tsvllm", ours.singleStreamTokensPerSecond, probes.readings, o.threads));
    const best = runs.reduce((b, r, i) => (r.singleStreamTokensPerSecond > runs[b].singleStreamTokensPerSecond ? i : b), 0);
    if (runs.length) lines.push(reads(`llama.cpp (${peerProbes[best].threads} thread${peerProbes[best].threads > 1 ? "s" : ""})`, runs[best].singleStreamTokensPerSecond, peerProbes[best].readings, peerProbes[best].threads));
  }
  if (o.prefillFlopsPerToken) {
    const peak = measureMachineReference({ arrayMiB: 256, repetitions: 3 }).fmaPeakGflops[key];
    const gflops = (ours.prefillTokensPerSecond * o.prefillFlopsPerToken) / 1e9;
    const peer = runs.length ? `, llama.cpp ${bestPrefill().toFixed(1)}` : "";
    lines.push(`prefill (${prompts.length} new prompts x ${o.inputLen} tokens, one output token each): tsvllm ${ours.prefillTokensPerSecond.toFixed(1)} prompt tokens/s${peer}; tsvllm's layer matmuls (${(o.prefillFlopsPerToken / 1e6).toFixed(2)} MFLOP a token; attention not counted) run at ${gflops.toFixed(1)} GFLOP/s, ${((gflops / peak) * 100).toFixed(1)}% of the ${peak.toFixed(1)} GFLOP/s ${threadsNote} FMA peak measured now`);
  }
  return lines;
}
