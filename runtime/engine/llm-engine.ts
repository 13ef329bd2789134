// The engine loop: step() = schedule, run the model once, sample, postprocess. Synchronous and
// single-threaded by design; LLM drives it to completion and AsyncLLM drives it from the event loop.
import { TsvllmError } from "../errors.ts";
import { LoraManager } from "../lora/lora-manager.ts";
import type { LoRARequest } from "../lora/lora-request.ts";
import { StructuredOutputManager } from "../structured/manager.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import { KVCacheManager } from "./block-manager.ts";
import type { EngineConfig } from "./config.ts";
import type { DraftModelProposer } from "./draft-model.ts";
import { DraftVerification, type SampleGroup } from "./draft-verification.ts";
import type { DefaultSamplingParams } from "./generation-defaults.ts";
import { chosenLogprob, positionLogprobs, requestedTokenLogprobs } from "./logprobs.ts";
import { blockPairs, buildModelInput, type LogitRows, type ModelInput, type ModelRunner } from "./model-runner.ts";
import { classify, type ClassifierHead } from "./classifier.ts";
import { pooledRows } from "./pooled-states.ts";
import { defaultPooling, dimensionsError, finishEmbedding, type ModelPooling, type PoolingRequestFields, type PoolingTask } from "./pooling.ts";
import { makeRequestOutput } from "./output.ts";
import { checkPromptLogprobTokenIds, validatePromptTokens, validateSamplingParams } from "./params-validation.ts";
import { nowSeconds, Request } from "./request.ts";
import type { NativeSamplerAddon } from "./sampler-addon.ts";
import { Sampler, type LogprobTensors, type SampleRow } from "./sampler.ts";
import { Scheduler, type SchedulerOutput } from "./scheduler.ts";
import type { Sequence } from "./sequence.ts";
import { appendTokenAndCheckStop } from "./stop-checker.ts";
import { ThinkingBudgets } from "./thinking-budget.ts";
import { numLogprobs, type EngineStats, type PositionLogprobs, type PromptInput, type RequestOutput, type SamplingParams } from "./types.ts";

/** A step's sampled tokens, one per sample row; log-prob row logprobRows[r] of `logprobs` is row r's (-1: none). */
interface StepSamples {
  tokenIds: Int32Array;
  logprobs: LogprobTensors | null;
  logprobRows: Int32Array;
  /** The step's logits, when they came back. */
  logits: Float32Array | null;
}


export interface AddRequestOptions extends PoolingRequestFields {
  priority?: number;
  /** Isolates this request's prefix-cache entries from requests with another salt. */
  cacheSalt?: string;
  /** Runs the request under this LoRA adapter, which addLora() must have loaded. */
  loraRequest?: LoRARequest | null;
}

export class LLMEngine {
  readonly config: EngineConfig;
  readonly tokenizer: Tokenizer;
  readonly runner: ModelRunner;
  readonly kvCacheManager: KVCacheManager;
  readonly scheduler: Scheduler;
  private readonly sampler: Sampler;
  private readonly structuredOutputs: StructuredOutputManager;
  /** The LoRA adapters, when enableLora; null otherwise. */
  readonly lora: LoraManager | null;
  /** How the model pools, for a pooling model (ModelRunner.poolingWidth); null for a generative one. */
  readonly pooling: ModelPooling | null;
  /** A sequence classifier's head, for a pooling model loaded with task "classify"; null otherwise. */
  readonly classifier: ClassifierHead | null;
  /** The model creator's sampling defaults for what requests leave unset (generation-defaults.ts), set by createEngine. */
  defaultSamplingParams: DefaultSamplingParams = {};
  /** Speculative decoding's draft model (method "draft_model"), set by createEngine. */
  draftModel: DraftModelProposer | null = null;
  private readonly requests = new Map<string, Request>();
  private promptTokens = 0;
  private generationTokens = 0;
  private seedCounter = 0n;
  private readonly drafts: DraftVerification;
  /** thinking_token_budget's bookkeeping, with the reasoning config's token ids; null without one. */
  private readonly thinking: ThinkingBudgets | null;

  constructor(config: EngineConfig, blocks: { numBlocks: number; numSwapBlocks: number }, runner: ModelRunner, tokenizer: Tokenizer, samplerAddon: NativeSamplerAddon, pooling: ModelPooling = defaultPooling, classifier: ClassifierHead | null = null) {
    this.config = config;
    this.pooling = runner.poolingWidth === undefined ? null : pooling;
    this.classifier = this.pooling && classifier;
    this.runner = runner;
    this.tokenizer = tokenizer;
    this.kvCacheManager = new KVCacheManager({ ...blocks, blockSize: config.blockSize, enablePrefixCaching: config.enablePrefixCaching });
    this.scheduler = new Scheduler(config, this.kvCacheManager);
    this.thinking = config.reasoningConfig && ThinkingBudgets.forStrings(config.reasoningConfig, tokenizer);
    this.sampler = new Sampler(samplerAddon, runner.config.vocabSize, this.thinking);
    this.structuredOutputs = new StructuredOutputManager(tokenizer);
    this.drafts = new DraftVerification(config.speculativeConfig, config.maxModelLen);
    if (config.enableLora && !runner.lora) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "enableLora: this model runner has no LoRA slots (compile the model with LoRA)", "enable_lora");
    if (config.enableLora && runner.lora && (runner.lora.maxLoras !== config.maxLoras || runner.lora.maxLoraRank !== config.maxLoraRank)) {
      throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `the model's LoRA slots (${runner.lora.maxLoras} of rank ${runner.lora.maxLoraRank}) are not maxLoras ${config.maxLoras} of maxLoraRank ${config.maxLoraRank}`, "max_loras");
    }
    this.lora = config.enableLora && runner.lora ? new LoraManager(runner.lora, config.maxCpuLoras ?? config.maxLoras) : null;
  }

  /** Loads a LoRA adapter so requests can name it (vLLM's add_lora); false if it was loaded already. */
  async addLora(request: LoRARequest): Promise<boolean> {
    return this.requireLora().add(request);
  }

  /** Unloads an adapter no live request runs (vLLM's remove_lora); false if it was not loaded. */
  removeLora(loraIntId: number): boolean {
    return this.requireLora().remove(loraIntId);
  }

  listLoras(): LoRARequest[] {
    return this.lora?.list() ?? [];
  }

  private requireLora(): LoraManager {
    if (!this.lora) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "LoRA is not enabled (enableLora)", "lora_request");
    return this.lora;
  }

  /** What a pooling model's requests ask for: class probabilities from a classifier, else embeddings. */
  get poolingTask(): PoolingTask {
    return this.classifier ? "classify" : "embed";
  }

  get vocabSize(): number {
    return this.runner.config.vocabSize;
  }

  /** Validates and queues a request; throws TsvllmError for input the engine cannot run. */
  addRequest(requestId: string, prompt: PromptInput, params: SamplingParams, options: AddRequestOptions = {}): Request {
    if (this.requests.has(requestId)) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `request id ${requestId} is already in use`, "request_id");
    if (this.scheduler.waiting.length >= this.config.maxWaitingRequests) {
      throw new TsvllmError("TSVLLM_ERR_QUEUE_FULL", `${this.scheduler.waiting.length} requests are already waiting (maxWaitingRequests); retry later`);
    }
    const pooling = this.pooling;
    if ((options.pooling ?? false) !== (pooling !== null)) {
      throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", pooling ? `this model was loaded as a pooling model (task "${this.poolingTask}"): it gives ${this.poolingTask === "embed" ? "embeddings" : "class probabilities"}, not generations` : "this model was loaded for generation: embeddings need it loaded with task \"embed\", class probabilities a sequence classifier (task \"classify\")", "task");
    }
    if (pooling && (options.poolingTask ?? "embed") !== this.poolingTask) {
      throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", this.classifier ? "this model was loaded as a sequence classifier (task \"classify\"): it gives class probabilities, not embeddings" : "this model was loaded as an embedding model (task \"embed\"): class probabilities need a sequence classifier (task \"classify\")", "task");
    }
    const dimensions = options.dimensions ?? null;
    const dimensionsProblem = pooling && dimensions !== null ? dimensionsError(pooling, dimensions, null) : null;
    if (dimensionsProblem !== null) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", dimensionsProblem, "dimensions");
    validateSamplingParams(params, this.vocabSize, this.config.maxNumSeqs, this.config.maxLogprobs);
    if (params.thinkingTokenBudget !== null && params.thinkingTokenBudget >= 0 && this.thinking === null) {
      throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "thinking_token_budget needs the engine's reasoning config (--reasoning-config, or a --reasoning-parser) to know where reasoning starts and ends", "thinking_token_budget");
    }
    const promptTokenIds = typeof prompt === "string" ? this.tokenizer.encode(prompt) : [...prompt.promptTokenIds];
    validatePromptTokens(promptTokenIds, this.vocabSize, this.config.maxModelLen);
    if (params.promptLogprobTokenIds !== null) checkPromptLogprobTokenIds(params, promptTokenIds.length, this.vocabSize, this.config.maxLogprobs);
    const grammar = params.structuredOutputs === null ? null : this.structuredOutputs.grammarFor(params.structuredOutputs);
    const lora = options.loraRequest ?? null;
    if (lora) this.requireLora().check(lora);
    const request = new Request({
      requestId,
      prompt: typeof prompt === "string" ? prompt : null,
      promptTokenIds,
      params,
      priority: options.priority ?? 0,
      arrivalTime: nowSeconds(),
      cacheSalt: options.cacheSalt ?? null,
      lora,
      rngSeed: params.seed !== null ? BigInt.asUintN(64, BigInt(params.seed)) : this.drawSeed(),
      eosTokenIds: this.tokenizer.eosTokenIds,
      badWordsTokenIds: this.badWordsTokenIds(params.badWords ?? []),
      grammar,
      maxOutputTokens: Math.max(1, Math.min(params.maxTokens, this.config.maxModelLen - promptTokenIds.length)),
      createDetokenizer: () => this.tokenizer.createDetokenizer({ skipSpecialTokens: params.skipSpecialTokens }),
      pooling: pooling && { poolingType: pooling.poolingType, dimensions, useActivation: options.useActivation ?? pooling.normalize },
    });
    // Pinned last, once nothing else can throw (a dropped adapter's files may still be unreadable).
    if (lora) this.requireLora().acquire(lora);
    this.requests.set(requestId, request);
    this.scheduler.add(request.sequences[0]);
    return request;
  }

  /** Finishes the request with "abort" and frees its blocks at once; null if it is not live. */
  abortRequest(requestId: string): RequestOutput | null {
    const request = this.requests.get(requestId);
    if (request === undefined) return null;
    for (const seq of request.liveSequences()) {
      this.scheduler.release(seq);
      seq.finish("abort");
    }
    return this.finishRequest(request);
  }

  hasUnfinishedRequests(): boolean {
    return this.requests.size > 0;
  }

  get numUnfinishedRequests(): number {
    return this.requests.size;
  }

  /** One engine iteration; returns the outputs of requests that advanced or finished. */
  step(): RequestOutput[] {
    const scheduled = this.scheduler.schedule();
    // Before anything else: a step that only preempted still has KV to swap out.
    const { swapOut, swapIn } = scheduled.blockSwaps;
    if (swapOut.length > 0 || swapIn.length > 0) this.runner.swapBlocks!(blockPairs(swapOut), blockPairs(swapIn));
    if (scheduled.scheduled.length === 0) return [];
    this.draftModel?.propose(scheduled);
    const { input, rows } = buildModelInput(scheduled);
    if (this.lora) input.loraSlots = this.loraSlots(scheduled);
    if (this.runner.poolingWidth !== undefined) return this.poolingStep(scheduled, input, this.runner.poolingWidth);
    const groups: SampleGroup[] = [];
    const forks: Sequence[] = [];
    scheduled.scheduled.forEach((s, i) => {
      const logitsRow = rows[i].sampleRow;
      if (logitsRow < 0) return;
      if (s.numSamples > 1) {
        forks.push(s.seq);
        for (const seq of s.seq.request.sequences) groups.push({ seq, logitsRow, drafts: [] });
      } else {
        groups.push({ seq: s.seq, logitsRow, drafts: s.draftTokenIds });
      }
    });
    const sampleRows = groups.flatMap(({ seq, logitsRow, drafts }) => Array.from({ length: drafts.length + 1 }, (_, j): SampleRow => ({ seq, logitsRow: logitsRow + j, draftIndex: j })));
    const sampled = this.runAndSample(input, rows, sampleRows);
    const verified = this.drafts.verify(groups, sampled.tokenIds);
    this.scheduler.commitStep(scheduled, verified.numRejected);
    if (sampled.logits !== null) this.recordPromptLogprobs(scheduled, rows, sampled.logits);
    for (const parent of forks) this.scheduler.fork(parent, parent.request.sequences.slice(1));

    const now = nowSeconds();
    const touched = new Set<Request>();
    const drafting = this.drafts.drafting(this.scheduler.running.length + this.scheduler.waiting.length);
    groups.forEach(({ seq }, g) => {
      const request = seq.request;
      if (request.metrics.firstTokenTime === null) {
        request.metrics.firstTokenTime = now;
        this.promptTokens += request.promptTokenIds.length;
      }
      request.metrics.lastTokenTime = now;
      const { firstRow, numTokens } = verified.tokens[g];
      for (let r = firstRow; r < firstRow + numTokens && !seq.isFinished; r++) {
        this.generationTokens++;
        if (sampled.logprobs !== null && seq.outputLogprobs !== null) {
          const row = sampled.logprobRows[r];
          seq.outputLogprobs.push(this.trimLogprobs(positionLogprobs(sampled.logprobs, row, this.tokenizer), numLogprobs(request.params)));
          seq.cumulativeLogprob += chosenLogprob(sampled.logprobs, row);
        }
        appendTokenAndCheckStop(seq, sampled.tokenIds[r], this.config.maxModelLen);
      }
      if (seq.isFinished) this.scheduler.release(seq);
      else if (this.config.speculativeConfig !== null) seq.draftTokenIds = this.drafts.nextDrafts(seq, drafting);
      touched.add(request);
    });
    for (const s of scheduled.scheduled) if (s.seq.request.promptLogprobs !== null) touched.add(s.seq.request);
    return [...touched].map((request) => (request.finished ? this.finishRequest(request) : makeRequestOutput(request)));
  }

  /**
   * A pooling model's step: each prompt adds the hidden states its pooling type reads from this
   * chunk (pooled-states.ts), and a prompt that ends in it finishes with its embedding, or a
   * classifier's class probabilities (classifier.ts).
   */
  private poolingStep(scheduled: SchedulerOutput, input: ModelInput, width: number): RequestOutput[] {
    const pooling = this.pooling!;
    const { logitsIndices, rows } = pooledRows(scheduled.scheduled, pooling.poolingType);
    const hidden = this.runner.execute({ ...input, logitsIndices });
    this.scheduler.commitStep(scheduled);
    const now = nowSeconds();
    const finished: RequestOutput[] = [];
    scheduled.scheduled.forEach(({ seq, needsLogits }, i) => {
      const request = seq.request;
      const { states, dimensions, useActivation } = request.pooling!;
      states.add(hidden, width, rows[i]);
      if (!needsLogits) return;
      if (this.classifier) request.probs = classify(this.classifier, states.pooled(), useActivation);
      else request.embedding = finishEmbedding(states.pooled(), useActivation, dimensions);
      request.metrics.firstTokenTime = now;
      request.metrics.lastTokenTime = now;
      this.promptTokens += request.promptTokenIds.length;
      seq.finish("stop");
      this.scheduler.release(seq);
      finished.push(this.finishRequest(request));
    });
    return finished;
  }

  /** Releases the model's native resources, and the draft model's. */
  close(): void {
    this.runner.close?.();
    this.draftModel?.runner.close?.();
  }

  stats(): EngineStats {
    return {
      numRequestsRunning: this.scheduler.running.length,
      numRequestsWaiting: this.scheduler.waiting.length,
      numRequestsSwapped: this.scheduler.swapped.length,
      kvCacheUsagePerc: this.kvCacheManager.usage,
      cpuCacheUsagePerc: this.kvCacheManager.swapSpace.usage,
      prefixCacheQueries: this.kvCacheManager.prefixCacheQueries,
      prefixCacheHits: this.kvCacheManager.prefixCacheHits,
      numPreemptions: this.scheduler.numPreemptions,
      promptTokens: this.promptTokens,
      generationTokens: this.generationTokens,
      specDecodeNumDrafts: this.drafts.numDrafts,
      specDecodeNumDraftTokens: this.drafts.numDraftTokens,
      specDecodeNumAcceptedTokens: this.drafts.numAcceptedTokens,
      ...(this.lora ? { lora: this.loraStats(this.lora) } : {}),
    };
  }

  private loraStats(lora: LoraManager): NonNullable<EngineStats["lora"]> {
    const names = (seqs: Iterable<Sequence>) => [...new Set([...seqs].flatMap((s) => (s.request.lora ? [s.request.lora.loraName] : [])))];
    return { maxLora: lora.maxLoras, runningLoraAdapters: names(this.scheduler.running), waitingLoraAdapters: names([...this.scheduler.waiting, ...this.scheduler.swapped]) };
  }

  /** Live requests, for invariant checks and metrics. */
  liveRequests(): Request[] {
    return [...this.requests.values()];
  }

  /** Each scheduled token's LoRA slot, with the step's adapters put in slots; null when none has an adapter. */
  private loraSlots(scheduled: SchedulerOutput): Int32Array | null {
    const ids = new Set(scheduled.scheduled.flatMap((s) => (s.seq.request.lora ? [s.seq.request.lora.loraIntId] : [])));
    if (ids.size === 0) return null;
    const slotOf = this.lora!.assignSlots(ids);
    const slots = new Int32Array(scheduled.totalNumScheduledTokens).fill(-1);
    let offset = 0;
    for (const s of scheduled.scheduled) {
      const lora = s.seq.request.lora;
      if (lora) slots.fill(slotOf.get(lora.loraIntId)!, offset, offset + s.numScheduledTokens);
      offset += s.numScheduledTokens;
    }
    return slots;
  }

  private finishRequest(request: Request): RequestOutput {
    request.metrics.finishedTime = nowSeconds();
    this.requests.delete(request.requestId);
    if (request.lora) this.lora?.release(request.lora);
    return makeRequestOutput(request);
  }

  /**
   * Runs the step's forward pass and samples its rows: those the sampler says the runner's forward
   * pass can sample go there (when it can sample at all), the rest to the native sampler,
   * and the logits come back only for those or for prompt log-probs. Which way a row goes depends
   * on its own request alone, so its tokens never depend on the rest of the batch.
   */
  private runAndSample(input: ModelInput, rows: LogitRows[], sampleRows: SampleRow[]): StepSamples {
    const which = this.runner.forwardSampling ?? "all";
    const onDevice = sampleRows.map((row) => this.runner.executeAndSample !== undefined && this.sampler.samplesInForward(row, which));
    const hostRows = sampleRows.filter((_, r) => !onDevice[r]);
    const deviceRows = sampleRows.filter((_, r) => onDevice[r]);
    let logits: Float32Array | null;
    let deviceTokens: Int32Array = new Int32Array(0);
    if (deviceRows.length === 0) {
      logits = this.runner.execute(input);
    } else {
      const needsLogits = hostRows.length > 0 || rows.some((r) => r.numPromptLogprobRows > 0);
      ({ tokenIds: deviceTokens, logits } = this.runner.executeAndSample!(input, this.sampler.deviceSampling(deviceRows), needsLogits));
    }
    const host = hostRows.length > 0 ? this.sampler.sample(logits!, hostRows) : { tokenIds: new Int32Array(0), logprobs: null };
    const tokenIds = new Int32Array(sampleRows.length);
    const logprobRows = new Int32Array(sampleRows.length).fill(-1);
    let d = 0;
    let h = 0;
    onDevice.forEach((device, r) => {
      if (device) {
        tokenIds[r] = deviceTokens[d++];
      } else {
        tokenIds[r] = host.tokenIds[h];
        logprobRows[r] = h++;
      }
    });
    return { tokenIds, logprobs: host.logprobs, logprobRows, logits };
  }

  /**
   * Row promptLogprobRow + k scores prompt token first + k. The chunk's span starts at the earlier of
   * the two kinds' next tokens (prompt_logprob_token_ids may start later), so each kind records from its own.
   */
  private recordPromptLogprobs(scheduled: SchedulerOutput, rows: LogitRows[], logits: Float32Array): void {
    scheduled.scheduled.forEach((s, i) => {
      const { numPromptLogprobRows: count, promptLogprobRow, firstPromptLogprobToken: first } = rows[i];
      const request = s.seq.request;
      if (count === 0) return;
      const span = (from: number) => {
        const skip = Math.max(0, from - first);
        const rowIndices = Int32Array.from({ length: Math.max(0, count - skip) }, (_, k) => promptLogprobRow + skip + k);
        const targets = Int32Array.from(rowIndices, (_, k) => request.promptTokenIds[first + skip + k]);
        return { rowIndices, targets };
      };
      if (request.promptLogprobs !== null) {
        const { rowIndices, targets } = span(request.promptLogprobs.length);
        const tensors = this.sampler.logprobsOf(logits, rowIndices, targets, request.params.promptLogprobs as number);
        for (let k = 0; k < rowIndices.length; k++) request.promptLogprobs.push(positionLogprobs(tensors, k, this.tokenizer));
      }
      if (request.promptTokenIdLogprobs !== null) this.recordPromptTokenIdLogprobs(request, span(request.firstTokenIdScoredToken + request.promptTokenIdLogprobs.length), logits);
    });
  }

  /** vLLM's prompt_token_id_logprobs rows for a chunk: the top-1 entry gives each row's normalizer. */
  private recordPromptTokenIdLogprobs(request: Request, span: { rowIndices: Int32Array; targets: Int32Array }, logits: Float32Array): void {
    const recorded = request.promptTokenIdLogprobs!;
    const requested = request.params.promptLogprobTokenIds!;
    const width = requested.reduce((widest, row) => Math.max(widest, row.length), 0);
    const tensors = this.sampler.logprobsOf(logits, span.rowIndices, span.targets, 1);
    span.rowIndices.forEach((logitsRow, k) => {
      const rowLogits = logits.subarray(logitsRow * this.vocabSize, (logitsRow + 1) * this.vocabSize);
      recorded.push(requestedTokenLogprobs(tensors, k, rowLogits, requested[recorded.length], width));
    });
  }

  /** A row holds the batch's widest top-N; keep the chosen token plus this request's own top-N. */
  private trimLogprobs(entries: PositionLogprobs, wanted: number | null): PositionLogprobs {
    if (wanted === null || wanted < 0) return entries;
    return new Map([...entries].filter(([, entry], j) => j === 0 || entry.rank <= wanted));
  }

  private badWordsTokenIds(words: readonly string[]): number[][] {
    const sequences = new Map<string, number[]>();
    for (const word of words) {
      // As vLLM does, a bad word is banned both as written and with a leading space.
      for (const variant of [word.trimStart(), ` ${word.trimStart()}`]) {
        const ids = this.tokenizer.encode(variant, { addSpecialTokens: false });
        if (ids.length > 0) sequences.set(ids.join(","), ids);
      }
    }
    return [...sequences.values()];
  }

  private drawSeed(): bigint {
    if (this.config.seed === null) {
      const words = crypto.getRandomValues(new Uint32Array(2));
      return (BigInt(words[1]) << 32n) | BigInt(words[0]);
    }
    // Reproducible runs: the n-th request without a seed gets a seed derived from (engine seed, n).
    this.seedCounter++;
    return BigInt.asUintN(64, (BigInt(this.config.seed) << 20n) ^ (this.seedCounter * 0x9e3779b97f4a7c15n));
  }
}
