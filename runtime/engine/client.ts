// What the server (and any other front end) needs from an engine: submit a request and watch it
// grow, read stats. AsyncLLM implements it; the server depends on nothing else.
import type { Tokenizer } from "../tokenizer/types.ts";
import type { EngineStats, PromptInput, RequestOutput, SamplingParams } from "./types.ts";

export interface GenerateOptions {
  requestId: string;
  /** Aborting frees the request's KV blocks at once; the iterable then ends with finishReason "abort". */
  signal?: AbortSignal;
  priority?: number;
}

export interface EngineClient {
  readonly modelName: string;
  readonly maxModelLen: number;
  readonly tokenizer: Tokenizer;
  /**
   * Yields cumulative RequestOutputs (each holds all text/tokens so far); the last one has
   * finished = true. Throws TsvllmError for invalid input (prompt too long, queue full, bad token id).
   */
  generate(prompt: PromptInput, params: SamplingParams, options: GenerateOptions): AsyncIterable<RequestOutput>;
  stats(): EngineStats;
  /** Stops accepting, lets running requests finish, then releases resources. */
  shutdown(): Promise<void>;
}
