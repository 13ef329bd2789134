// What the server (and any other front end) needs from an engine: submit a request and watch it
// grow, read stats. AsyncLLM implements it; the server depends on nothing else.
import type { LoRARequest } from "../lora/lora-request.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import type { DefaultSamplingParams } from "./generation-defaults.ts";
import type { ClassifierHead } from "./classifier.ts";
import type { ModelPooling, PoolingRequestFields } from "./pooling.ts";
import type { EngineStats, PromptInput, RequestOutput, SamplingParams } from "./types.ts";

export interface GenerateOptions extends PoolingRequestFields {
  requestId: string;
  /** Aborting frees the request's KV blocks at once; the iterable then ends with finishReason "abort". */
  signal?: AbortSignal;
  priority?: number;
  /** The LoRA adapter to run under (one addLora loaded); absent or null: the base model. */
  loraRequest?: LoRARequest | null;
}

/** The adapters of an engine with LoRA enabled (vLLM's add_lora / remove_lora / list_loras). */
export interface LoraClient {
  /** Loads the adapter; false if it was loaded already. Throws TsvllmError for one the model cannot run. */
  addLora(request: LoRARequest): Promise<boolean>;
  /** Unloads it; false if it was not loaded. Throws while a live request runs it. */
  removeLora(loraIntId: number): boolean;
  listLoras(): LoRARequest[];
}

export interface EngineClient {
  readonly modelName: string;
  readonly maxModelLen: number;
  /** The most log-probs per token a request may ask for (vLLM's max_logprobs; -1: the vocabulary); absent: vLLM's 20. */
  readonly maxLogprobs?: number;
  readonly tokenizer: Tokenizer;
  /**
   * Yields cumulative RequestOutputs (each holds all text/tokens so far); the last one has
   * finished = true. Throws TsvllmError for invalid input (prompt too long, queue full, bad token id).
   */
  generate(prompt: PromptInput, params: SamplingParams, options: GenerateOptions): AsyncIterable<RequestOutput>;
  stats(): EngineStats;
  /** The model creator's sampling defaults (generation config) for what a request leaves unset; absent or empty: the engine's own. */
  readonly defaultSamplingParams?: DefaultSamplingParams;
  /** How a pooling model pools; absent for a generative model. */
  readonly pooling?: ModelPooling | null;
  /** A sequence classifier's head (its labels, numLabels); absent or null for any other model. */
  readonly classifier?: ClassifierHead | null;
  /** Present when the engine runs LoRA adapters (enableLora). */
  readonly lora?: LoraClient;
  /** Stops accepting, lets running requests finish, then releases resources. */
  shutdown(): Promise<void>;
}
