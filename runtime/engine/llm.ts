// The offline API, as vLLM's LLM class: create once, then generate / chat / beamSearch (or, for a
// pooling model, embed / score, or classify for a sequence classifier) over batches; results come back in input order when the whole
// batch is done.
import cliProgress from "cli-progress";
import { TsvllmError } from "../errors.ts";
import type { ChatMessage, ChatTemplateOptions, Tokenizer } from "../tokenizer/types.ts";
import { beamSearch, type BeamSearchOutput, type BeamSearchParams } from "./beam-search.ts";
import type { LoRARequest } from "../lora/lora-request.ts";
import type { LLMEngine } from "./llm-engine.ts";
import { engineFromOptions, type LLMOptions } from "./model-loader.ts";
import { runToCompletion, type OfflineRequest } from "./run-to-completion.ts";
import { dimensionsError } from "./pooling.ts";
import { classifierScoreError, crossEncoderPrompts, cosineSimilarity, scorePairs } from "./score.ts";
import { samplingParams, type EngineStats, type PromptInput, type RequestOutput, type SamplingParams } from "./types.ts";

export interface GenerateCallOptions {
  /** Per prompt, lower first under the priority policy. */
  priority?: number[];
  /** A progress bar on stderr for batches of 32 or more prompts when stderr is a terminal (default true). */
  useProgressBar?: boolean;
  /** The LoRA adapter every prompt runs under, or one per prompt (null: the base model); loaded first if it is not (enableLora). */
  loraRequest?: LoRARequest | (LoRARequest | null)[] | null;
}

type ParamsArg = Partial<SamplingParams> | Partial<SamplingParams>[];

/** vLLM's EmbeddingRequestOutput: a prompt's embedding, pooled as the model pools (runtime/engine/pooling.ts). */
export interface EmbeddingRequestOutput {
  requestId: string;
  promptTokenIds: number[];
  outputs: { embedding: number[] };
  finished: boolean;
}

/** vLLM's ScoringRequestOutput: one pair's score, and the tokens of both its texts. */
export interface ScoringRequestOutput {
  requestId: string;
  promptTokenIds: number[];
  outputs: { score: number };
  finished: boolean;
}

/** vLLM's ClassificationRequestOutput: a prompt's class probabilities, from a sequence classifier's head (classifier.ts). */
export interface ClassificationRequestOutput {
  requestId: string;
  promptTokenIds: number[];
  outputs: { probs: number[] };
  finished: boolean;
}

export interface EmbedCallOptions extends Omit<GenerateCallOptions, "priority" | "loraRequest"> {
  /** One LoRA adapter for every prompt (loaded first if it is not). */
  loraRequest?: LoRARequest | null;
  /** Matryoshka: keep each embedding's first this many values (before normalizing); the model must be a Matryoshka one. */
  dimensions?: number | null;
}

export interface ClassifyCallOptions extends Omit<EmbedCallOptions, "dimensions"> {
  /** vLLM's use_activation: false gives the head's raw logits; null or absent: the model's (on unless poolerConfig.normalize is false). */
  useActivation?: boolean | null;
}

const progressBarMinPrompts = 32;

export class LLM {
  readonly engine: LLMEngine;
  readonly modelName: string;

  static async create(options: LLMOptions): Promise<LLM> {
    return new LLM(await engineFromOptions(options), options.model);
  }

  constructor(engine: LLMEngine, modelName: string) {
    this.engine = engine;
    this.modelName = modelName;
  }

  get tokenizer(): Tokenizer {
    return this.engine.tokenizer;
  }

  /**
   * The sampling params generate() uses when it is given none: the model creator's defaults from
   * its generation config (LLMOptions.generationConfig) over the engine's, as vLLM's LLM.get_default_sampling_params.
   */
  getDefaultSamplingParams(): SamplingParams {
    return samplingParams(this.engine.defaultSamplingParams);
  }

  /** Generates for each prompt; without params, getDefaultSamplingParams() (params given are taken as they are, over the engine's defaults). */
  async generate(prompts: PromptInput | PromptInput[], params: ParamsArg = this.getDefaultSamplingParams(), options: GenerateCallOptions = {}): Promise<RequestOutput[]> {
    const list = Array.isArray(prompts) ? prompts : [prompts];
    const paramsList = Array.isArray(params) ? params : list.map(() => params);
    if (paramsList.length !== list.length) throw new RangeError(`got ${paramsList.length} sampling params for ${list.length} prompts`);
    const given = options.loraRequest ?? null;
    const loras: (LoRARequest | null)[] = Array.isArray(given) ? given : list.map(() => given);
    if (loras.length !== list.length) throw new RangeError(`got ${loras.length} LoRA requests for ${list.length} prompts`);
    for (const lora of new Set(loras)) if (lora) await this.engine.addLora(lora);
    return this.runBatch(list.map((prompt, i) => ({ prompt, params: samplingParams(paramsList[i]), priority: options.priority?.[i], loraRequest: loras[i] })), options);
  }

  private runBatch(requests: OfflineRequest[], options: GenerateCallOptions): RequestOutput[] {
    const showBar = (options.useProgressBar ?? true) && requests.length >= progressBarMinPrompts && process.stderr.isTTY === true;
    if (!showBar) return runToCompletion(this.engine, requests);
    const bar = new cliProgress.SingleBar({ stream: process.stderr, format: "Processed prompts {bar} {value}/{total} | {eta_formatted} left" }, cliProgress.Presets.shades_classic);
    bar.start(requests.length, 0);
    try {
      return runToCompletion(this.engine, requests, () => bar.increment());
    } finally {
      bar.stop();
    }
  }

  /**
   * Embeds each prompt (vLLM's LLM.embed), in input order; the model must have been loaded as a
   * pooling model (task "embed", or a base model). Prompts run batched like generations, each one
   * prefill whose final hidden states the model's pooler turns into its embedding.
   */
  async embed(prompts: PromptInput | PromptInput[], options: EmbedCallOptions = {}): Promise<EmbeddingRequestOutput[]> {
    const list = Array.isArray(prompts) ? prompts : [prompts];
    const lora = options.loraRequest ?? null;
    if (Array.isArray(lora)) throw new RangeError("embed() takes one LoRA request for every prompt");
    const dimensions = options.dimensions ?? null;
    const pooling = this.engine.pooling;
    const problem = pooling && dimensions !== null ? dimensionsError(pooling, dimensions, this.modelName) : null;
    if (problem !== null) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", problem, "dimensions");
    if (lora) await this.engine.addLora(lora);
    const outputs = this.runBatch(list.map((prompt) => ({ prompt, params: samplingParams({ maxTokens: 1 }), loraRequest: lora, pooling: true, dimensions })), options);
    return outputs.map((o) => ({ requestId: o.requestId, promptTokenIds: o.promptTokenIds, outputs: { embedding: o.embedding! }, finished: o.finished }));
  }

  /**
   * Classifies each prompt (vLLM's LLM.classify), in input order; the model must be a sequence
   * classifier (task "classify"). Each prompt's pooled state (its last token's, by default) goes
   * through the `score` head and the activation vLLM picks for the model (classifier.ts).
   */
  async classify(prompts: PromptInput | PromptInput[], options: ClassifyCallOptions = {}): Promise<ClassificationRequestOutput[]> {
    const list = Array.isArray(prompts) ? prompts : [prompts];
    const lora = options.loraRequest ?? null;
    if (lora) await this.engine.addLora(lora);
    const useActivation = options.useActivation ?? null;
    const outputs = this.runBatch(list.map((prompt) => ({ prompt, params: samplingParams({ maxTokens: 1 }), loraRequest: lora, pooling: true, poolingTask: "classify", useActivation })), options);
    return outputs.map((o) => ({ requestId: o.requestId, promptTokenIds: o.promptTokenIds, outputs: { probs: o.probs! }, finished: o.finished }));
  }

  /**
   * Scores text pairs (vLLM's LLM.score): one text against one or many, or many against as many,
   * pairwise. An embedding model scores the cosine similarity of the two embeddings; a one-label
   * sequence classifier (a cross-encoder) classifies each pair encoded together.
   */
  async score(texts1: PromptInput | PromptInput[], texts2: PromptInput | PromptInput[], options: EmbedCallOptions = {}): Promise<ScoringRequestOutput[]> {
    const refusal = classifierScoreError(this.engine.classifier, this.tokenizer);
    if (refusal !== null) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", refusal, "task");
    const first = Array.isArray(texts1) ? texts1 : [texts1];
    const second = Array.isArray(texts2) ? texts2 : [texts2];
    if (this.engine.classifier) {
      const classified = await this.classify(crossEncoderPrompts(first, second, this.tokenizer).map((promptTokenIds) => ({ promptTokenIds })), options);
      return classified.map((o) => ({ requestId: o.requestId, promptTokenIds: o.promptTokenIds, outputs: { score: o.outputs.probs[0] }, finished: true }));
    }
    const pairs = scorePairs(first.length, second.length);
    const embedded = await this.embed([...first, ...second], options);
    return pairs.map(([i, j]) => {
      const [a, b] = [embedded[i], embedded[first.length + j]];
      return { requestId: `${a.requestId}_${b.requestId}`, promptTokenIds: [...a.promptTokenIds, ...b.promptTokenIds], outputs: { score: cosineSimilarity(a.outputs.embedding, b.outputs.embedding) }, finished: true };
    });
  }

  /** Applies the chat template to each conversation (one, or a list of them) and generates. */
  async chat(messages: ChatMessage[] | ChatMessage[][], params: ParamsArg = this.getDefaultSamplingParams(), options: ChatTemplateOptions & GenerateCallOptions = {}): Promise<RequestOutput[]> {
    const conversations = messages.length > 0 && Array.isArray(messages[0]) ? (messages as ChatMessage[][]) : [messages as ChatMessage[]];
    const prompts = conversations.map((conversation) => {
      const text = this.tokenizer.applyChatTemplate(conversation, { addGenerationPrompt: true, ...options });
      // The template already holds the special tokens (a second BOS is vLLM's classic chat bug).
      return { promptTokenIds: this.tokenizer.encode(text, { addSpecialTokens: false }) };
    });
    return this.generate(prompts, params, options);
  }

  /** Beam search over each prompt, under a LoRA adapter if one is given (loaded first if it is not). */
  async beamSearch(prompts: PromptInput | PromptInput[], params: BeamSearchParams, options: { loraRequest?: LoRARequest | null } = {}): Promise<BeamSearchOutput[]> {
    if (options.loraRequest) await this.engine.addLora(options.loraRequest);
    return beamSearch(this.engine, Array.isArray(prompts) ? prompts : [prompts], params, options.loraRequest ?? null);
  }

  stats(): EngineStats {
    return this.engine.stats();
  }

  close(): void {
    this.engine.close();
  }
}
