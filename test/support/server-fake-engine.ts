// A deterministic EngineClient for server tests. Choice i of a request "generates" the prompt's
// non-special tokens reversed and rotated by i, then EOS; it honours maxTokens, minTokens, stop
// strings (holding back a possible partial match, as the real engine must), stop token ids,
// ignoreEos, n, logprobs and prompt logprobs, a running limit with a waiting queue, queue-full
// errors, and aborts (recorded so tests can see them).
import { setImmediate as nextTick } from "node:timers/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { EngineClient, GenerateOptions } from "../../runtime/engine/client.ts";
import type { DefaultSamplingParams } from "../../runtime/engine/generation-defaults.ts";
import type { CompletionOutput, EngineStats, PositionLogprobs, PromptInput, RequestOutput, SamplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import type { Tokenizer } from "../../runtime/tokenizer/types.ts";
import { ByteTokenizer } from "./server-byte-tokenizer.ts";

export interface FakeEngineOptions {
  modelName?: string;
  maxModelLen?: number;
  tokenizer?: Tokenizer;
  /** Delay per generated token; 0 yields to the event loop only. */
  tokenDelayMs?: number;
  /** Requests beyond this many wait in the queue. */
  maxNumSeqs?: number;
  /** generate() throws TSVLLM_ERR_QUEUE_FULL when this many requests are waiting. */
  maxWaiting?: number;
  /** The model's generation config defaults, as the real engine reads them. */
  defaultSamplingParams?: DefaultSamplingParams;
}

export interface FakeRequestRecord {
  requestId: string;
  promptTokenIds: number[];
  params: SamplingParams;
  priority: number;
}

const sampledLogprob = -0.5;

function positionLogprobs(token: number, top: number, tokenizer: Tokenizer, baseLogprob: number): PositionLogprobs {
  const position: PositionLogprobs = new Map([[token, { logprob: baseLogprob, rank: 1, decodedToken: tokenizer.tokenText(token) }]]);
  for (let k = 1; position.size <= top && k <= top + 1; k++) {
    const alternative = (token + k) % tokenizer.vocabSize;
    if (!position.has(alternative)) {
      position.set(alternative, { logprob: baseLogprob - k, rank: position.size + 1, decodedToken: tokenizer.tokenText(alternative) });
    }
  }
  return position;
}

class FakeSequence {
  readonly output: CompletionOutput;
  constructor(
    index: number,
    private readonly pattern: number[],
    private readonly params: SamplingParams,
    private readonly tokenizer: Tokenizer,
  ) {
    this.output = { index, text: "", tokenIds: [], cumulativeLogprob: null, logprobs: null, finishReason: null, stopReason: null };
    if (params.logprobs !== null) {
      this.output.logprobs = [];
      this.output.cumulativeLogprob = 0;
    }
  }

  private nextToken(): number {
    const length = this.output.tokenIds.length;
    const mayEnd = !this.params.ignoreEos && length >= this.params.minTokens;
    if (length >= this.pattern.length && mayEnd) return this.tokenizer.eosTokenIds[0];
    return this.pattern[length % this.pattern.length];
  }

  step(): void {
    const { params, tokenizer, output } = this;
    const token = this.nextToken();
    output.tokenIds.push(token);
    if (params.logprobs !== null) {
      output.logprobs!.push(positionLogprobs(token, params.logprobs, tokenizer, sampledLogprob));
      output.cumulativeLogprob! += sampledLogprob;
    }
    const length = output.tokenIds.length;
    const full = tokenizer.decode(output.tokenIds, { skipSpecialTokens: params.skipSpecialTokens });
    const mayStop = length >= params.minTokens;
    // As the real engine does, a stop token's own text is left out unless stop strings are kept.
    const stoppedText = () => (params.includeStopStrInOutput ? full : tokenizer.decode(output.tokenIds.slice(0, -1), { skipSpecialTokens: params.skipSpecialTokens }));
    if (mayStop && !params.ignoreEos && tokenizer.eosTokenIds.includes(token)) return this.finish(stoppedText(), "stop", null);
    if (mayStop && params.stopTokenIds.includes(token)) return this.finish(stoppedText(), "stop", token);
    if (mayStop) {
      const match = params.stop
        .map((stop) => ({ stop, at: full.indexOf(stop) }))
        .filter((m) => m.at >= 0)
        .sort((a, b) => a.at - b.at)[0];
      if (match) {
        const end = params.includeStopStrInOutput ? match.at + match.stop.length : match.at;
        return this.finish(full.slice(0, end), "stop", match.stop);
      }
    }
    if (length >= params.maxTokens) return this.finish(full, "length", null);
    output.text = full.slice(0, full.length - this.heldBack(full));
  }

  /** Length of the longest suffix of `text` that could still grow into a stop string. */
  private heldBack(text: string): number {
    let held = text.endsWith("\uFFFD") ? 1 : 0;
    for (const stop of this.params.stop) {
      for (let k = Math.min(stop.length - 1, text.length); k > held; k--) {
        if (text.endsWith(stop.slice(0, k))) held = k;
      }
    }
    return held;
  }

  finish(text: string, reason: "stop" | "length" | "abort", stopReason: string | number | null): void {
    this.output.text = reason === "abort" ? this.output.text : text;
    this.output.finishReason = reason;
    this.output.stopReason = stopReason;
  }

  get finished(): boolean {
    return this.output.finishReason !== null;
  }
}

export class FakeEngine implements EngineClient {
  readonly modelName: string;
  readonly maxModelLen: number;
  readonly tokenizer: Tokenizer;
  readonly defaultSamplingParams: DefaultSamplingParams;
  /** Every accepted request, in arrival order. */
  readonly requests: FakeRequestRecord[] = [];
  /** Request ids whose abort the engine saw before they finished. */
  readonly aborted = new Set<string>();
  readonly finished = new Set<string>();
  private readonly tokenDelayMs: number;
  private readonly maxNumSeqs: number;
  private readonly maxWaiting: number;
  private readonly waiters: (() => void)[] = [];
  private running = 0;
  private runningTokens = 0;
  private counters = { prefixCacheQueries: 0, promptTokens: 0, generationTokens: 0 };
  private shuttingDown = false;

  constructor(options: FakeEngineOptions = {}) {
    this.modelName = options.modelName ?? "fake-model";
    this.maxModelLen = options.maxModelLen ?? 512;
    this.tokenizer = options.tokenizer ?? new ByteTokenizer();
    this.tokenDelayMs = options.tokenDelayMs ?? 0;
    this.maxNumSeqs = options.maxNumSeqs ?? Infinity;
    this.maxWaiting = options.maxWaiting ?? Infinity;
    this.defaultSamplingParams = options.defaultSamplingParams ?? {};
  }

  generate(prompt: PromptInput, params: SamplingParams, options: GenerateOptions): AsyncIterable<RequestOutput> {
    return this.run(prompt, params, options);
  }

  stats(): EngineStats {
    return {
      numRequestsRunning: this.running,
      numRequestsWaiting: this.waiters.length,
      numRequestsSwapped: 0,
      kvCacheUsagePerc: this.runningTokens / (64 * this.maxModelLen),
      cpuCacheUsagePerc: 0,
      prefixCacheQueries: this.counters.prefixCacheQueries,
      prefixCacheHits: 0,
      numPreemptions: 0,
      promptTokens: this.counters.promptTokens,
      generationTokens: this.counters.generationTokens,
      specDecodeNumDrafts: 0,
      specDecodeNumDraftTokens: 0,
      specDecodeNumAcceptedTokens: 0,
    };
  }

  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    while (this.running > 0 || this.waiters.length > 0) await sleep(5);
  }

  private validate(prompt: PromptInput): number[] {
    if (this.shuttingDown) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "the engine is shutting down");
    const ids = typeof prompt === "string" ? this.tokenizer.encode(prompt, { addSpecialTokens: true }) : prompt.promptTokenIds;
    const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= this.tokenizer.vocabSize);
    if (bad !== undefined) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `token id ${bad} is out of vocabulary`, "prompt");
    if (ids.length >= this.maxModelLen) {
      throw new TsvllmError("TSVLLM_ERR_PROMPT_TOO_LONG", `prompt of ${ids.length} tokens does not fit max_model_len ${this.maxModelLen}`, "prompt");
    }
    if (this.running >= this.maxNumSeqs && this.waiters.length >= this.maxWaiting) {
      throw new TsvllmError("TSVLLM_ERR_QUEUE_FULL", `${this.waiters.length} requests are already waiting`);
    }
    return ids;
  }

  private async admit(signal: AbortSignal | undefined): Promise<void> {
    if (this.running < this.maxNumSeqs) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        signal?.removeEventListener("abort", cancel);
        resolve();
      };
      const cancel = () => {
        this.waiters.splice(this.waiters.indexOf(wake), 1);
        resolve();
      };
      this.waiters.push(wake);
      signal?.addEventListener("abort", cancel, { once: true });
    });
  }

  private async *run(prompt: PromptInput, params: SamplingParams, options: GenerateOptions): AsyncGenerator<RequestOutput> {
    const promptTokenIds = this.validate(prompt);
    const { requestId, signal } = options;
    this.requests.push({ requestId, promptTokenIds, params, priority: options.priority ?? 0 });
    const arrivalTime = performance.now() / 1000;
    await this.admit(signal);
    const firstScheduledTime = performance.now() / 1000;
    const content = promptTokenIds.filter((id) => !this.tokenizer.isSpecial(id)).reverse();
    const base = content.length > 0 ? content : [0x78];
    const sequences = Array.from({ length: params.n }, (_, i) =>
      new FakeSequence(i, [...base.slice(i % base.length), ...base.slice(0, i % base.length)], params, this.tokenizer));
    const promptLogprobs = params.promptLogprobs === null
      ? null
      : promptTokenIds.map((id, i) => (i === 0 ? null : positionLogprobs(id, params.promptLogprobs!, this.tokenizer, -2)));
    const output = (finished: boolean): RequestOutput => ({
      requestId, prompt: typeof prompt === "string" ? prompt : null, promptTokenIds, promptLogprobs, finished,
      outputs: sequences.map((s) => ({ ...s.output, tokenIds: [...s.output.tokenIds], logprobs: s.output.logprobs && [...s.output.logprobs] })),
      metrics: { arrivalTime, firstScheduledTime, firstTokenTime: null, lastTokenTime: null, finishedTime: finished ? performance.now() / 1000 : null },
    });
    this.running++;
    this.runningTokens += promptTokenIds.length;
    this.counters.prefixCacheQueries += promptTokenIds.length;
    this.counters.promptTokens += promptTokenIds.length;
    let done = false;
    try {
      while (!done) {
        await (this.tokenDelayMs > 0 ? sleep(this.tokenDelayMs) : nextTick());
        if (signal?.aborted) {
          for (const s of sequences) if (!s.finished) s.finish("", "abort", null);
          this.aborted.add(requestId);
          done = true;
          yield output(true);
          return;
        }
        for (const s of sequences.filter((s) => !s.finished)) {
          s.step();
          this.runningTokens++;
          this.counters.generationTokens++;
        }
        done = sequences.every((s) => s.finished);
        if (done) this.finished.add(requestId);
        yield output(done);
      }
    } finally {
      if (!done) this.aborted.add(requestId);
      this.running--;
      this.runningTokens -= promptTokenIds.length + sequences.reduce((sum, s) => sum + s.output.tokenIds.length, 0);
      this.waiters.shift()?.();
    }
  }
}
