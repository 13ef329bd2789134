// Prometheus metrics under vLLM's names. Gauges and engine counters are read from engine.stats()
// at scrape time; latency and size histograms are observed here, per engine request, as outputs
// stream by. Each app has its own Registry so several servers can live in one process.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EngineClient } from "../runtime/engine/client.ts";
import type { EngineStats, FinishReason, RequestOutput } from "../runtime/engine/types.ts";

// vLLM's bucket boundaries (v1/metrics/loggers.py), so dashboards built for vLLM read the same.
const ttftBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const itlBuckets = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const requestTimeBuckets = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

/** 1, 2, 5, 10, 20, 50, ... up to max (vLLM's build_1_2_5_buckets). */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let exponent = 0; ; exponent++) {
    for (const mantissa of [1, 2, 5]) {
      const value = mantissa * 10 ** exponent;
      if (value > max) return out;
      out.push(value);
    }
  }
}

const engineCounters: [name: string, help: string, read: (s: EngineStats) => number][] = [
  ["vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", (s) => s.prefixCacheQueries],
  ["vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", (s) => s.prefixCacheHits],
  ["vllm:num_preemptions", "Cumulative number of preemptions from the engine.", (s) => s.numPreemptions],
  ["vllm:prompt_tokens", "Number of prefill tokens processed.", (s) => s.promptTokens],
  ["vllm:generation_tokens", "Number of generation tokens processed.", (s) => s.generationTokens],
  ["vllm:spec_decode_num_drafts", "Number of spec decoding drafts.", (s) => s.specDecodeNumDrafts],
  ["vllm:spec_decode_num_draft_tokens", "Number of draft tokens.", (s) => s.specDecodeNumDraftTokens],
  ["vllm:spec_decode_num_accepted_tokens", "Number of accepted tokens.", (s) => s.specDecodeNumAcceptedTokens],
];

const finishReasons: FinishReason[] = ["stop", "length", "abort", "repetition"];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly labels: { model_name: string };
  private readonly ttft: Histogram<"model_name">;
  private readonly itl: Histogram<"model_name">;
  private readonly e2e: Histogram<"model_name">;
  private readonly queueTime: Histogram<"model_name">;
  private readonly promptTokens: Histogram<"model_name">;
  private readonly generationTokens: Histogram<"model_name">;
  private readonly requestSuccess: Counter<"model_name" | "finished_reason">;

  constructor(engine: EngineClient, modelName: string) {
    const labels = { model_name: modelName };
    this.labels = labels;
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: (s: EngineStats) => number) =>
      new Gauge({ name, help, labelNames: ["model_name"], registers, collect() { this.set(labels, read(engine.stats())); } });
    gauge("vllm:num_requests_running", "Number of requests in model execution batches.", (s) => s.numRequestsRunning);
    gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", (s) => s.numRequestsWaiting);
    gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", (s) => s.kvCacheUsagePerc);
    // vLLM V0's swap gauges, for --preemption-mode swap (0 without a swap space).
    gauge("vllm:num_requests_swapped", "Number of requests swapped to CPU.", (s) => s.numRequestsSwapped);
    gauge("vllm:cpu_cache_usage_perc", "CPU KV-cache usage. 1 means 100 percent usage.", (s) => s.cpuCacheUsagePerc);
    if (engine.lora) {
      // vLLM's info gauge: the adapters in its labels (comma-separated names), the time as its value.
      new Gauge({
        name: "vllm:lora_requests_info",
        help: "Running stats on lora requests.",
        labelNames: ["max_lora", "running_lora_adapters", "waiting_lora_adapters"],
        registers,
        collect() {
          const lora = engine.stats().lora;
          this.reset();
          if (lora) this.set({ max_lora: String(lora.maxLora), running_lora_adapters: lora.runningLoraAdapters.join(","), waiting_lora_adapters: lora.waitingLoraAdapters.join(",") }, Date.now() / 1000);
        },
      });
    }
    for (const [name, help, read] of engineCounters) {
      // prom-client exposes counters under their own name; vLLM's (Python) ones carry _total.
      let seen = 0;
      const counter = new Counter({
        name: `${name}_total`, help, labelNames: ["model_name"], registers,
        collect() {
          const value = read(engine.stats());
          if (value > seen) this.inc(labels, value - seen);
          seen = Math.max(seen, value);
        },
      });
      counter.inc(labels, 0);
    }
    this.requestSuccess = new Counter({
      name: "vllm:request_success_total", help: "Count of successfully processed requests.",
      labelNames: ["model_name", "finished_reason"], registers,
    });
    for (const reason of finishReasons) this.requestSuccess.inc({ ...labels, finished_reason: reason }, 0);
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, buckets, labelNames: ["model_name"], registers });
    this.ttft = histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttftBuckets);
    this.itl = histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itlBuckets);
    this.e2e = histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", requestTimeBuckets);
    this.queueTime = histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", requestTimeBuckets);
    const tokenBuckets = buckets125(engine.maxModelLen);
    this.promptTokens = histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", tokenBuckets);
    this.generationTokens = histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", tokenBuckets);
  }

  /** Starts timing one engine request; feed it every output the engine yields. */
  track(): RequestTracker {
    return new RequestTracker(this);
  }

  /** @internal called by RequestTracker */
  observeFirstToken(seconds: number): void {
    this.ttft.observe(this.labels, seconds);
  }

  /** @internal */
  observeInterToken(seconds: number, count: number): void {
    for (let i = 0; i < count; i++) this.itl.observe(this.labels, seconds);
  }

  /** @internal */
  observeFinished(output: RequestOutput, e2eSeconds: number): void {
    this.e2e.observe(this.labels, e2eSeconds);
    const { arrivalTime, firstScheduledTime } = output.metrics;
    // RequestMetrics times are seconds on one clock (vLLM's convention); only the difference is used.
    if (firstScheduledTime != null) this.queueTime.observe(this.labels, Math.max(0, firstScheduledTime - arrivalTime));
    this.promptTokens.observe(this.labels, output.promptTokenIds.length);
    for (const completion of output.outputs) {
      this.generationTokens.observe(this.labels, completion.tokenIds.length);
      this.requestSuccess.inc({ ...this.labels, finished_reason: completion.finishReason ?? "abort" });
    }
    // A pooling request has no completions; vLLM counts it finished with reason "stop".
    if (output.embedding !== undefined) this.requestSuccess.inc({ ...this.labels, finished_reason: "stop" });
  }
}

export class RequestTracker {
  private readonly startTime = performance.now();
  private lastTokenTime: number | null = null;
  private longestOutput = 0;
  private lastOutput: RequestOutput | null = null;
  private finished = false;
  constructor(private readonly metrics: ServerMetrics) {}

  observe(output: RequestOutput): void {
    if (this.finished) return;
    this.lastOutput = output;
    const now = performance.now();
    // With n > 1 the outputs advance together; time per token follows the longest one.
    const longest = output.outputs.reduce((max, o) => Math.max(max, o.tokenIds.length), 0);
    const added = longest - this.longestOutput;
    if (added > 0) {
      if (this.lastTokenTime === null) this.metrics.observeFirstToken((now - this.startTime) / 1000);
      else this.metrics.observeInterToken((now - this.lastTokenTime) / 1000 / added, added);
      this.lastTokenTime = now;
      this.longestOutput = longest;
    }
    if (output.finished) {
      this.finished = true;
      this.metrics.observeFinished(output, (now - this.startTime) / 1000);
    }
  }

  /** The server stopped reading before the engine's last output: what is unfinished counts as aborted. */
  abandon(): void {
    if (this.finished || this.lastOutput === null) return;
    const last = this.lastOutput;
    const outputs = last.outputs.map((o) => (o.finishReason === null ? { ...o, finishReason: "abort" as const } : o));
    this.observe({ ...last, outputs, finished: true });
  }
}
