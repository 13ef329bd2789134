// The public shapes of the engine API, mirroring vLLM's SamplingParams / RequestOutput with
// camelCased names, so users of vLLM recognise every field.

/**
 * vLLM's StructuredOutputsParams (GuidedDecodingParams before v0.10), camelCased: exactly one
 * constraint the whole output must match.
 */
export interface StructuredOutputsParams {
  /** A JSON schema (an object, or its JSON text). */
  json?: Record<string, unknown> | boolean | string | null;
  /** A regular expression (JavaScript syntax) matching the whole output. */
  regex?: string | null;
  /** The output is one of these strings. */
  choice?: string[] | null;
  /** Any JSON object (response_format json_object). */
  jsonObject?: boolean | null;
  /** A regex for the whitespace allowed between JSON tokens; default one space, or a line break and indentation. */
  whitespacePattern?: string | null;
  /** No whitespace between JSON tokens (when no whitespacePattern is given). */
  disableAnyWhitespace?: boolean | null;
}

/** vLLM's RepetitionDetectionParams, camelCased: stop when the output ends in a token pattern repeated in a row. */
export interface RepetitionDetectionParams {
  /** Longest pattern (in tokens) looked for; 0 disables detection. */
  maxPatternSize: number;
  /** Shortest pattern looked for; 0 means 1. */
  minPatternSize: number;
  /** Copies in a row that count as repetition; at least 2 when maxPatternSize > 0. */
  minCount: number;
}

export interface SamplingParams {
  n: number;
  presencePenalty: number;
  frequencyPenalty: number;
  repetitionPenalty: number;
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  /** 0 or -1 means the whole vocabulary. */
  topK: number;
  minP: number;
  seed: number | null;
  stop: string[];
  stopTokenIds: number[];
  ignoreEos: boolean;
  maxTokens: number;
  minTokens: number;
  /** Number of top log-probs to return per generated token; null for none. */
  logprobs: number | null;
  promptLogprobs: number | null;
  /**
   * vLLM's logprob_token_ids (at most 128): each generated position's log-probs are the sampled
   * token's and these tokens', in place of the top-N; logprobs must then be null or their count.
   */
  logprobTokenIds: number[] | null;
  /**
   * vLLM's prompt_logprob_token_ids (prefill scoring, as for on-policy distillation): row i holds the
   * tokens whose log-probs to give as predictions of prompt token promptLogprobStart + i + 1, one row
   * per prompt position from promptLogprobStart to the one before the last; -1 pads a short row.
   * Independent of promptLogprobs: no prompt token or rank is added.
   */
  promptLogprobTokenIds: number[][] | null;
  /** vLLM's prompt_logprob_start: the first prompt position promptLogprobTokenIds scores; null for 0. */
  promptLogprobStart: number | null;
  skipSpecialTokens: boolean;
  spacesBetweenSpecialTokens: boolean;
  includeStopStrInOutput: boolean;
  logitBias: Record<number, number> | null;
  allowedTokenIds: number[] | null;
  badWords: string[] | null;
  structuredOutputs: StructuredOutputsParams | null;
  /**
   * vLLM's thinking_token_budget: at most this many tokens inside the reasoning section, after which
   * its end is forced (needs the engine's reasoningConfig); null or -1: no limit.
   */
  thinkingTokenBudget: number | null;
  /**
   * vLLM's repetition_detection: the sequence finishes ("repetition", stop reason
   * "repetition_detected") once its output ends in a pattern repeated minCount times; null: off.
   */
  repetitionDetection: RepetitionDetectionParams | null;
  /**
   * vLLM's stream_interval: a streamed request's outputs (AsyncLLM.generate) go out every this
   * many new tokens, and always at a choice's first token and when it finishes; null: every step.
   */
  streamInterval: number | null;
}

export const defaultSamplingParams: Readonly<SamplingParams> = Object.freeze({
  n: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  seed: null,
  stop: [],
  stopTokenIds: [],
  ignoreEos: false,
  maxTokens: 16,
  minTokens: 0,
  logprobs: null,
  promptLogprobs: null,
  logprobTokenIds: null,
  promptLogprobTokenIds: null,
  promptLogprobStart: null,
  skipSpecialTokens: true,
  spacesBetweenSpecialTokens: true,
  includeStopStrInOutput: false,
  logitBias: null,
  allowedTokenIds: null,
  badWords: null,
  structuredOutputs: null,
  thinkingTokenBudget: null,
  repetitionDetection: null,
  streamInterval: null,
});

export function samplingParams(overrides: Partial<SamplingParams> = {}): SamplingParams {
  return { ...defaultSamplingParams, ...overrides };
}

/** Log-probs per generated position beside the sampled token's (vLLM's num_logprobs): logprobs, else the logprob_token_ids' count; null for none. */
export function numLogprobs(p: SamplingParams): number | null {
  return p.logprobs ?? p.logprobTokenIds?.length ?? null;
}

/** token id -> log-prob (with rank and decoded text) for one position. */
export interface Logprob {
  logprob: number;
  rank: number;
  decodedToken: string;
}
export type PositionLogprobs = Map<number, Logprob>;

/** vLLM's finish reasons; "repetition" when repetition_detection ended the sequence. */
export type FinishReason = "stop" | "length" | "abort" | "repetition";

export interface CompletionOutput {
  index: number;
  text: string;
  tokenIds: number[];
  cumulativeLogprob: number | null;
  logprobs: PositionLogprobs[] | null;
  finishReason: FinishReason | null;
  /** The stop string or stop token id that ended the sequence, when one did. */
  stopReason: string | number | null;
}

export interface RequestMetrics {
  arrivalTime: number;
  firstScheduledTime: number | null;
  firstTokenTime: number | null;
  lastTokenTime: number | null;
  finishedTime: number | null;
}

export interface RequestOutput {
  requestId: string;
  prompt: string | null;
  promptTokenIds: number[];
  promptLogprobs: (PositionLogprobs | null)[] | null;
  /**
   * vLLM's prompt_token_id_logprobs, present when promptLogprobTokenIds was asked: the rows scored so
   * far, each as wide as the longest requested row, -Infinity for its -1 padding.
   */
  promptTokenIdLogprobs?: number[][];
  outputs: CompletionOutput[];
  finished: boolean;
  metrics: RequestMetrics;
  /** A pooling model's request: the prompt's embedding (runtime/engine/pooling.ts); its outputs are empty. */
  embedding?: number[];
  /** A sequence classifier's request: the prompt's class probabilities (runtime/engine/classifier.ts); its outputs are empty. */
  probs?: number[];
  /**
   * Prompt tokens served from the prefix cache when the request was first scheduled (vLLM's
   * num_cached_tokens, usage.prompt_tokens_details.cached_tokens); absent from engines that do not count them.
   */
  numCachedTokens?: number;
}

/** A prompt is text (tokenized with the model's tokenizer) or token ids used as given. */
export type PromptInput = string | { promptTokenIds: number[] };

/** Counters and gauges the server exports as Prometheus metrics. */
export interface EngineStats {
  numRequestsRunning: number;
  numRequestsWaiting: number;
  /** Sequences whose KV is in the swap space (preemptionMode "swap"; vLLM V0's num_requests_swapped). */
  numRequestsSwapped: number;
  kvCacheUsagePerc: number;
  /** Fraction of the swap space in use (vLLM V0's cpu_cache_usage_perc); 0 without one. */
  cpuCacheUsagePerc: number;
  prefixCacheQueries: number;
  prefixCacheHits: number;
  numPreemptions: number;
  promptTokens: number;
  generationTokens: number;
  /** Speculative decoding (vLLM's spec_decode counters): sequence-steps that verified drafts, the drafts, and those accepted. */
  specDecodeNumDrafts: number;
  specDecodeNumDraftTokens: number;
  specDecodeNumAcceptedTokens: number;
  /** With LoRA enabled: the slots, and the adapters of running and of waiting (or swapped) requests, by name. */
  lora?: { maxLora: number; runningLoraAdapters: string[]; waitingLoraAdapters: string[] };
}
