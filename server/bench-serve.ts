// `tsvllm bench serve`: drives an OpenAI-compatible /v1/completions endpoint with a seeded random
// dataset and reports what `vllm bench serve` reports (same names, units and printout), so numbers
// can be set side by side.
import { exponential, randomTokenPrompts, randomWordPrompts, seededRandom, type BenchPrompt, type RandomDatasetOptions } from "./bench-dataset.ts";

export interface BenchServeOptions {
  /** Server root, e.g. "http://127.0.0.1:8000". */
  baseUrl: string;
  /** Default: the first model GET /v1/models lists. */
  model?: string;
  apiKey?: string;
  /** Default 1000, as vLLM. */
  numPrompts?: number;
  /** Default 1024. */
  randomInputLen?: number;
  /** Default 128. */
  randomOutputLen?: number;
  /** Default 0: every prompt has exactly the lengths above. */
  randomRangeRatio?: number;
  /** "random-tokens" (ids uniform in [0, vocabSize)) needs vocabSize; "random-words" uses /tokenize. */
  dataset?: "random-tokens" | "random-words";
  vocabSize?: number;
  /** Requests per second, arriving as a Poisson process; Infinity (default) sends all at once. */
  requestRate?: number;
  /** At most this many requests in flight (default: no limit). */
  maxConcurrency?: number;
  /** Default 0. */
  seed?: number;
  /** Ask the server to ignore EOS so every request generates its full output length (default false). */
  ignoreEos?: boolean;
  /** Called after each request with (finished, total). */
  onProgress?: (finished: number, total: number) => void;
}

export interface RequestResult {
  success: boolean;
  error: string;
  promptLen: number;
  outputTokens: number;
  /** Seconds. */
  ttft: number;
  itl: number[];
  latency: number;
}

export interface LatencyStats {
  meanMs: number;
  medianMs: number;
  p99Ms: number;
}

export interface BenchServeResult {
  completed: number;
  failed: number;
  maxConcurrency: number | null;
  requestRate: number;
  /** Seconds. */
  duration: number;
  totalInputTokens: number;
  totalOutputTokens: number;
  requestThroughput: number;
  outputThroughput: number;
  totalTokenThroughput: number;
  peakConcurrentRequests: number;
  ttft: LatencyStats;
  tpot: LatencyStats;
  itl: LatencyStats;
  e2el: LatencyStats;
  errors: string[];
}

/** numpy.percentile's default (linear interpolation between closest ranks). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

function latencyStats(seconds: readonly number[]): LatencyStats {
  const mean = seconds.length === 0 ? 0 : seconds.reduce((a, b) => a + b, 0) / seconds.length;
  return { meanMs: mean * 1000, medianMs: percentile(seconds, 50) * 1000, p99Ms: percentile(seconds, 99) * 1000 };
}

function headers(options: BenchServeOptions): Record<string, string> {
  return { "content-type": "application/json", ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) };
}

async function firstModel(options: BenchServeOptions): Promise<string> {
  const response = await fetch(`${options.baseUrl}/v1/models`, { headers: headers(options) });
  if (!response.ok) throw new Error(`GET /v1/models answered ${response.status}`);
  const body = (await response.json()) as { data: { id: string }[] };
  return body.data[0].id;
}

async function buildDataset(options: BenchServeOptions, model: string): Promise<BenchPrompt[]> {
  const dataset: RandomDatasetOptions = {
    numPrompts: options.numPrompts ?? 1000,
    inputLen: options.randomInputLen ?? 1024,
    outputLen: options.randomOutputLen ?? 128,
    rangeRatio: options.randomRangeRatio ?? 0,
    seed: options.seed ?? 0,
  };
  const kind = options.dataset ?? (options.vocabSize !== undefined ? "random-tokens" : "random-words");
  if (kind === "random-tokens") {
    if (options.vocabSize === undefined) throw new Error("the random-tokens dataset needs vocabSize");
    return randomTokenPrompts(dataset, options.vocabSize);
  }
  return randomWordPrompts(dataset, async (prompt) => {
    const response = await fetch(`${options.baseUrl}/tokenize`, {
      method: "POST", headers: headers(options), body: JSON.stringify({ model, prompt, add_special_tokens: false }),
    });
    if (!response.ok) throw new Error(`POST /tokenize answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { tokens: number[] }).tokens;
  });
}

/** Yields each `data:` payload of a Server-Sent Events body. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const bytes of body) {
    buffer += decoder.decode(bytes, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) if (line.startsWith("data: ")) yield line.slice(6);
    }
  }
}

/** One streamed completion, timed as vLLM's benchmark client times it. */
async function sendRequest(options: BenchServeOptions, model: string, prompt: BenchPrompt): Promise<RequestResult> {
  const result: RequestResult = { success: false, error: "", promptLen: prompt.tokenIds.length, outputTokens: 0, ttft: 0, itl: [], latency: 0 };
  const start = performance.now();
  let mostRecent = start;
  let firstChunk = true;
  try {
    const response = await fetch(`${options.baseUrl}/v1/completions`, {
      method: "POST",
      headers: headers(options),
      body: JSON.stringify({
        model, prompt: prompt.tokenIds, max_tokens: prompt.outputLen, temperature: 0,
        stream: true, stream_options: { include_usage: true }, ignore_eos: options.ignoreEos ?? false,
      }),
    });
    if (!response.ok || !response.body) {
      result.error = `HTTP ${response.status}: ${await response.text()}`;
      return result;
    }
    for await (const data of sseData(response.body)) {
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data) as { choices?: unknown[]; usage?: { completion_tokens: number }; error?: { message: string } };
      if (chunk.error) throw new Error(chunk.error.message);
      const now = performance.now();
      if (chunk.choices && chunk.choices.length > 0) {
        if (firstChunk) result.ttft = (now - start) / 1000;
        else result.itl.push((now - mostRecent) / 1000);
        firstChunk = false;
        mostRecent = now;
      } else if (chunk.usage) {
        result.outputTokens = chunk.usage.completion_tokens;
      }
    }
    result.latency = (mostRecent - start) / 1000;
    result.success = !firstChunk;
    if (firstChunk) result.error = "the stream ended without a completion chunk";
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  }
  return result;
}

function summarize(results: RequestResult[], duration: number, options: BenchServeOptions, peak: number): BenchServeResult {
  const ok = results.filter((r) => r.success);
  const totalInputTokens = ok.reduce((sum, r) => sum + r.promptLen, 0);
  const totalOutputTokens = ok.reduce((sum, r) => sum + r.outputTokens, 0);
  const tpots = ok.filter((r) => r.outputTokens > 1).map((r) => (r.latency - r.ttft) / (r.outputTokens - 1));
  return {
    completed: ok.length,
    failed: results.length - ok.length,
    maxConcurrency: options.maxConcurrency ?? null,
    requestRate: options.requestRate ?? Infinity,
    duration,
    totalInputTokens,
    totalOutputTokens,
    requestThroughput: ok.length / duration,
    outputThroughput: totalOutputTokens / duration,
    totalTokenThroughput: (totalInputTokens + totalOutputTokens) / duration,
    peakConcurrentRequests: peak,
    ttft: latencyStats(ok.map((r) => r.ttft)),
    tpot: latencyStats(tpots),
    itl: latencyStats(ok.flatMap((r) => r.itl)),
    e2el: latencyStats(ok.map((r) => r.latency)),
    errors: results.filter((r) => !r.success).map((r) => r.error),
  };
}

export async function benchServe(options: BenchServeOptions): Promise<BenchServeResult> {
  const model = options.model ?? (await firstModel(options));
  const prompts = await buildDataset(options, model);
  const rate = options.requestRate ?? Infinity;
  const random = seededRandom((options.seed ?? 0) + 1);
  const limit = options.maxConcurrency ?? Infinity;
  let inFlight = 0;
  let peak = 0;
  let finished = 0;
  const slotWaiters: (() => void)[] = [];
  const run = async (prompt: BenchPrompt): Promise<RequestResult> => {
    while (inFlight >= limit) await new Promise<void>((resolve) => slotWaiters.push(resolve));
    inFlight++;
    peak = Math.max(peak, inFlight);
    try {
      return await sendRequest(options, model, prompt);
    } finally {
      inFlight--;
      slotWaiters.shift()?.();
      options.onProgress?.(++finished, prompts.length);
    }
  };
  const start = performance.now();
  const pending: Promise<RequestResult>[] = [];
  for (const prompt of prompts) {
    pending.push(run(prompt));
    if (Number.isFinite(rate)) await new Promise((resolve) => setTimeout(resolve, exponential(random, 1000 / rate)));
  }
  const results = await Promise.all(pending);
  return summarize(results, (performance.now() - start) / 1000, options, peak);
}

/** Python's "{:c^n}".format(text). */
function center(text: string, width: number, fill: string): string {
  const pad = Math.max(0, width - text.length);
  const left = Math.floor(pad / 2);
  return fill.repeat(left) + text + fill.repeat(pad - left);
}

/** The result in `vllm bench serve`'s layout. */
export function formatBenchResult(result: BenchServeResult): string {
  const row = (label: string, value: number | string, decimals: number | null = 2) =>
    `${label.padEnd(40)} ${typeof value === "number" && decimals !== null ? value.toFixed(decimals) : String(value)}`;
  const lines = [
    center(" Serving Benchmark Result ", 50, "="),
    row("Successful requests:", result.completed, null),
    row("Failed requests:", result.failed, null),
    ...(result.maxConcurrency !== null ? [row("Maximum request concurrency:", result.maxConcurrency, null)] : []),
    ...(Number.isFinite(result.requestRate) ? [row("Request rate configured (RPS):", result.requestRate)] : []),
    row("Benchmark duration (s):", result.duration),
    row("Total input tokens:", result.totalInputTokens, null),
    row("Total generated tokens:", result.totalOutputTokens, null),
    row("Request throughput (req/s):", result.requestThroughput),
    row("Output token throughput (tok/s):", result.outputThroughput),
    row("Peak concurrent requests:", result.peakConcurrentRequests),
    row("Total Token throughput (tok/s):", result.totalTokenThroughput),
  ];
  const sections: [string, string, LatencyStats][] = [
    ["Time to First Token", "TTFT", result.ttft],
    ["Time per Output Token (excl. 1st token)", "TPOT", result.tpot],
    ["Inter-token Latency", "ITL", result.itl],
    ["End-to-end Latency", "E2EL", result.e2el],
  ];
  for (const [title, short, stats] of sections) {
    lines.push(center(title, 50, "-"));
    lines.push(row(`Mean ${short} (ms):`, stats.meanMs), row(`Median ${short} (ms):`, stats.medianMs), row(`P99 ${short} (ms):`, stats.p99Ms));
  }
  lines.push("=".repeat(50));
  return lines.join("\n");
}
