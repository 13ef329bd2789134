// The offline API, as vLLM's LLM class: create once, then generate / chat / beamSearch over
// batches; results come back in input order when the whole batch is done.
import cliProgress from "cli-progress";
import type { ChatMessage, ChatTemplateOptions, Tokenizer } from "../tokenizer/types.ts";
import { beamSearch, type BeamSearchOutput, type BeamSearchParams } from "./beam-search.ts";
import type { LoRARequest } from "../lora/lora-request.ts";
import type { LLMEngine } from "./llm-engine.ts";
import { engineFromOptions, type LLMOptions } from "./model-loader.ts";
import { runToCompletion, type OfflineRequest } from "./run-to-completion.ts";
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

/** vLLM's EmbeddingRequestOutput: a prompt's embedding, unit length (runtime/engine/pooling.ts). */
export interface EmbeddingRequestOutput {
  requestId: string;
  promptTokenIds: number[];
  outputs: { embedding: number[] };
  finished: boolean;
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

  async generate(prompts: PromptInput | PromptInput[], params: ParamsArg = {}, options: GenerateCallOptions = {}): Promise<RequestOutput[]> {
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
   * Embeds each prompt (vLLM's LLM.embed), in input order; the model must have been loaded with
   * task "embed". Prompts run batched like generations, each one prefill whose last token's final
   * hidden state, normalized, is its embedding.
   */
  async embed(prompts: PromptInput | PromptInput[], options: Omit<GenerateCallOptions, "priority"> = {}): Promise<EmbeddingRequestOutput[]> {
    const list = Array.isArray(prompts) ? prompts : [prompts];
    const lora = options.loraRequest ?? null;
    if (Array.isArray(lora)) throw new RangeError("embed() takes one LoRA request for every prompt");
    if (lora) await this.engine.addLora(lora);
    const outputs = this.runBatch(list.map((prompt) => ({ prompt, params: samplingParams({ maxTokens: 1 }), loraRequest: lora, pooling: true })), options);
    return outputs.map((o) => ({ requestId: o.requestId, promptTokenIds: o.promptTokenIds, outputs: { embedding: o.embedding! }, finished: o.finished }));
  }

  /** Applies the chat template to each conversation (one, or a list of them) and generates. */
  async chat(messages: ChatMessage[] | ChatMessage[][], params: ParamsArg = {}, options: ChatTemplateOptions & GenerateCallOptions = {}): Promise<RequestOutput[]> {
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
