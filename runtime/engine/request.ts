// A request as the engine keeps it: the prompt, its sampling params resolved into what the
// sampler and stop checker need, its n sequences, its timings and its prompt log-probs.
import type { LoRARequest } from "../lora/lora-request.ts";
import type { StructuredOutputGrammar } from "../structured/grammar.ts";
import type { IncrementalDetokenizer } from "../tokenizer/types.ts";
import { PooledStates } from "./pooled-states.ts";
import type { PoolingType } from "./pooling.ts";
import { Sequence } from "./sequence.ts";
import type { PositionLogprobs, RequestMetrics, SamplingParams } from "./types.ts";

export interface RequestInit {
  requestId: string;
  prompt: string | null;
  promptTokenIds: number[];
  params: SamplingParams;
  /** Lower runs first under the priority policy (vLLM's convention). */
  priority: number;
  arrivalTime: number;
  cacheSalt: string | null;
  /** The LoRA adapter the request runs under; null or absent for the base model. */
  lora?: LoRARequest | null;
  /** 64-bit seed of every sequence's RNG stream (the request's seed, or one drawn for it). */
  rngSeed: bigint;
  eosTokenIds: readonly number[];
  /** Token sequences of params.badWords. */
  badWordsTokenIds: number[][];
  /** Output budget: params.maxTokens capped by what maxModelLen leaves after the prompt. */
  maxOutputTokens: number;
  /** The automaton of params.structuredOutputs, when given. */
  grammar: StructuredOutputGrammar | null;
  createDetokenizer: () => IncrementalDetokenizer;
  /**
   * A pooling request: how the model pools, the Matryoshka size asked for (null: the model's), and
   * for a classifier whether its activation applies.
   */
  pooling?: { poolingType: PoolingType; dimensions: number | null; useActivation: boolean } | null;
}

/** A pooling request's pooling: its settings and the states pooled so far. */
export interface RequestPooling {
  readonly poolingType: PoolingType;
  readonly dimensions: number | null;
  readonly useActivation: boolean;
  readonly states: PooledStates;
}

/** Wall-clock seconds with sub-millisecond resolution, like vLLM's time.time(). */
export function nowSeconds(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}

export class Request {
  readonly requestId: string;
  readonly prompt: string | null;
  readonly promptTokenIds: number[];
  readonly params: SamplingParams;
  readonly priority: number;
  readonly cacheSalt: string | null;
  readonly lora: LoRARequest | null;
  readonly rngSeed: bigint;
  readonly eosTokenIds: readonly number[];
  readonly badWordsTokenIds: number[][];
  readonly maxOutputTokens: number;
  readonly grammar: StructuredOutputGrammar | null;
  readonly sequences: Sequence[];
  /** False while the other n - 1 sequences still wait to fork from the first. */
  forked: boolean;
  promptLogprobs: (PositionLogprobs | null)[] | null;
  /** vLLM's prompt_token_id_logprobs rows recorded so far; null unless promptLogprobTokenIds was asked. */
  promptTokenIdLogprobs: number[][] | null;
  readonly metrics: RequestMetrics;
  readonly pooling: RequestPooling | null;
  /** Set when an embedding model has run the whole prompt. */
  embedding: number[] | null = null;
  /** Set when a sequence classifier has run the whole prompt: its class probabilities. */
  probs: number[] | null = null;
  /** The prefix-cache hit (in tokens) at the first scheduling; a preempted request's later hits do not change it, as in vLLM. */
  numCachedTokens: number | null = null;

  constructor(init: RequestInit) {
    this.requestId = init.requestId;
    this.prompt = init.prompt;
    this.promptTokenIds = init.promptTokenIds;
    this.params = init.params;
    this.priority = init.priority;
    this.cacheSalt = init.cacheSalt;
    this.lora = init.lora ?? null;
    this.rngSeed = init.rngSeed;
    this.eosTokenIds = init.eosTokenIds;
    this.badWordsTokenIds = init.badWordsTokenIds;
    this.maxOutputTokens = init.maxOutputTokens;
    this.grammar = init.grammar;
    this.pooling = init.pooling ? { ...init.pooling, states: new PooledStates() } : null;
    this.sequences = Array.from({ length: init.params.n }, (_, i) => new Sequence(this, i, init.createDetokenizer()));
    this.forked = init.params.n === 1;
    // Position 0 has no log-prob: nothing precedes the first prompt token.
    this.promptLogprobs = init.params.promptLogprobs === null ? null : [null];
    this.promptTokenIdLogprobs = init.params.promptLogprobTokenIds === null ? null : [];
    this.metrics = { arrivalTime: init.arrivalTime, firstScheduledTime: null, firstTokenTime: null, lastTokenTime: null, finishedTime: null };
  }

  get arrivalTime(): number {
    return this.metrics.arrivalTime;
  }

  /**
   * The next prompt token whose log-probs are still to record (prompt_logprobs score from token 1,
   * prompt_logprob_token_ids from promptLogprobStart + 1); null when the request asks for neither.
   */
  get nextScoredPromptToken(): number | null {
    const next: number[] = [];
    if (this.promptLogprobs !== null) next.push(this.promptLogprobs.length);
    if (this.promptTokenIdLogprobs !== null) next.push(this.firstTokenIdScoredToken + this.promptTokenIdLogprobs.length);
    return next.length === 0 ? null : Math.min(...next);
  }

  /** The prompt token row 0 of prompt_token_id_logprobs scores. */
  get firstTokenIdScoredToken(): number {
    return (this.params.promptLogprobStart ?? 0) + 1;
  }

  get finished(): boolean {
    return this.sequences.every((s) => s.isFinished);
  }

  /** Sequences that still hold or wait for KV blocks. */
  liveSequences(): Sequence[] {
    return this.sequences.filter((s) => !s.isFinished);
  }
}
