// The engine behind the server: generate() queues a request and returns an AsyncIterable of its
// cumulative outputs. One step loop runs on the event loop, awaiting between steps so new
// requests and aborts get in, and stopping when nothing is queued (no busy-waiting).
import { TsvllmError } from "../errors.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import type { EngineClient, GenerateOptions, LoraClient } from "./client.ts";
import type { LLMEngine } from "./llm-engine.ts";
import { engineFromOptions, type LLMOptions } from "./model-loader.ts";
import { OutputStream } from "./output-stream.ts";
import { StreamInterval } from "./stream-interval.ts";
import type { DefaultSamplingParams } from "./generation-defaults.ts";
import type { ClassifierHead } from "./classifier.ts";
import { poolingFields, type ModelPooling } from "./pooling.ts";
import type { EngineStats, PromptInput, RequestOutput, SamplingParams } from "./types.ts";

export class AsyncLLM implements EngineClient {
  readonly modelName: string;
  readonly engine: LLMEngine;
  private readonly streams = new Map<string, OutputStream>();
  private loopRunning = false;
  private accepting = true;
  private loopIdle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  static async create(options: LLMOptions): Promise<AsyncLLM> {
    return new AsyncLLM(await engineFromOptions(options), options.model);
  }

  constructor(engine: LLMEngine, modelName: string) {
    this.engine = engine;
    this.modelName = modelName;
    if (engine.lora) this.lora = { addLora: (r) => engine.addLora(r), removeLora: (id) => engine.removeLora(id), listLoras: () => engine.listLoras() };
  }

  readonly lora?: LoraClient;

  get maxModelLen(): number {
    return this.engine.config.maxModelLen;
  }

  get maxLogprobs(): number {
    return this.engine.config.maxLogprobs;
  }

  get tokenizer(): Tokenizer {
    return this.engine.tokenizer;
  }

  get defaultSamplingParams(): DefaultSamplingParams {
    return this.engine.defaultSamplingParams;
  }

  get pooling(): ModelPooling | null {
    return this.engine.pooling;
  }

  get classifier(): ClassifierHead | null {
    return this.engine.classifier;
  }

  generate(prompt: PromptInput, params: SamplingParams, options: GenerateOptions): AsyncIterable<RequestOutput> {
    if (!this.accepting) throw new TsvllmError("TSVLLM_ERR_ABORTED", "the engine is shutting down and accepts no new requests");
    const { requestId, signal } = options;
    this.engine.addRequest(requestId, prompt, params, { priority: options.priority, loraRequest: options.loraRequest, ...poolingFields(options) });
    const onAbort = () => this.abort(requestId);
    // As vLLM: the request's stream_interval is clamped up to the engine's --stream-interval.
    const interval = Math.max(params.streamInterval ?? 1, this.engine.config.streamInterval);
    const stream = new OutputStream(onAbort, interval === 1 ? null : new StreamInterval(interval));
    this.streams.set(requestId, stream);
    if (signal !== undefined) {
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    this.wakeLoop();
    return (async function* () {
      try {
        yield* stream;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    })();
  }

  /** Finishes the request with "abort" and frees its KV blocks now, not at the next step. */
  abort(requestId: string): void {
    const output = this.engine.abortRequest(requestId);
    if (output !== null) this.deliver(output);
  }

  stats(): EngineStats {
    return this.engine.stats();
  }

  async shutdown(): Promise<void> {
    this.accepting = false;
    await this.loopIdle;
    this.engine.close();
  }

  private deliver(output: RequestOutput): void {
    this.streams.get(output.requestId)?.push(output);
    if (output.finished) this.streams.delete(output.requestId);
  }

  private wakeLoop(): void {
    if (this.loopRunning) return;
    this.loopRunning = true;
    this.loopIdle = new Promise<void>((resolve) => (this.markIdle = resolve));
    setImmediate(() => void this.runLoop());
  }

  private async runLoop(): Promise<void> {
    try {
      while (this.engine.hasUnfinishedRequests()) {
        let outputs: RequestOutput[];
        try {
          outputs = this.engine.step();
        } catch (error) {
          this.failAll(error);
          break;
        }
        for (const output of outputs) this.deliver(output);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.loopRunning = false;
      this.markIdle();
    }
  }

  /** A failed step fails every live request and frees all their blocks. */
  private failAll(error: unknown): void {
    for (const request of this.engine.liveRequests()) {
      this.engine.abortRequest(request.requestId);
      this.streams.get(request.requestId)?.fail(error);
      this.streams.delete(request.requestId);
    }
  }
}
