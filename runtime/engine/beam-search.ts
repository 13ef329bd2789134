// Beam search as vLLM's LLM.beam_search and its server's use_beam_search do it, on top of the engine
// rather than inside it: each round asks every live beam for its 2 * beamWidth most likely next
// tokens (one-token requests whose prompt is the beam), keeps the beamWidth best by
// length-penalised score, and moves beams that end in EOS to the finished list. Beams share their
// common prefix through the prefix cache, so a round recomputes only each beam's last partial
// block. BeamSearch holds one prompt's search; beamSearch drives a batch of them offline (one
// engine run per round) and beamSearchRequest one of them through an EngineClient (the server).
import { TsvllmError } from "../errors.ts";
import type { LoRARequest } from "../lora/lora-request.ts";
import type { Tokenizer } from "../tokenizer/types.ts";
import type { EngineClient, GenerateOptions } from "./client.ts";
import type { LLMEngine } from "./llm-engine.ts";
import { nowSeconds } from "./request.ts";
import { runToCompletion } from "./run-to-completion.ts";
import { samplingParams, type PromptInput, type RequestOutput, type SamplingParams } from "./types.ts";

export interface BeamSearchParams {
  beamWidth: number;
  maxTokens: number;
  ignoreEos?: boolean;
  temperature?: number;
  /** Scores are cumulative log-prob / length ** lengthPenalty. */
  lengthPenalty?: number;
  /** Keep a finishing EOS in the beam's tokens and text (vLLM's include_stop_str_in_output). */
  includeStopStrInOutput?: boolean;
}

export interface BeamSearchSequence {
  /** Generated tokens, without the prompt. */
  tokenIds: number[];
  text: string;
  cumulativeLogprob: number;
  score: number;
  /** The EOS token that finished the beam, or null when it ran to maxTokens. */
  eosTokenId: number | null;
}

export interface BeamSearchOutput {
  promptTokenIds: number[];
  sequences: BeamSearchSequence[];
}

interface Beam {
  tokens: number[];
  cumulativeLogprob: number;
}

/** vLLM's get_beam_search_score: the length counts the prompt and leaves out a final EOS. */
export function beamSearchScore(tokens: readonly number[], cumulativeLogprob: number, eosTokenIds: readonly number[], lengthPenalty: number): number {
  const length = tokens.length - (eosTokenIds.includes(tokens[tokens.length - 1]) ? 1 : 0);
  return cumulativeLogprob / length ** lengthPenalty;
}

/** One prompt's search, a round at a time: roundPrompts() says what to run, advance() takes the outputs. */
export class BeamSearch {
  /** Every round's request: one token, with the top 2 * beamWidth log-probs. */
  readonly stepParams: SamplingParams;
  private beams: Beam[];
  private readonly finished: Beam[] = [];
  private live: Beam[] = [];
  private round = 0;

  constructor(
    readonly promptTokenIds: readonly number[],
    private readonly params: BeamSearchParams,
    private readonly eosTokenIds: readonly number[],
    private readonly maxModelLen: number,
  ) {
    this.stepParams = samplingParams({ maxTokens: 1, logprobs: 2 * params.beamWidth, temperature: params.temperature ?? 0, ignoreEos: params.ignoreEos ?? false });
    this.beams = [{ tokens: [...promptTokenIds], cumulativeLogprob: 0 }];
  }

  /** This round's prompts, one per beam that can still grow; none once the search is over. */
  roundPrompts(): number[][] {
    this.live = this.round < this.params.maxTokens ? this.beams.filter((b) => b.tokens.length < this.maxModelLen) : [];
    return this.live.map((b) => b.tokens);
  }

  /** The outputs of roundPrompts()'s requests, in its order. */
  advance(outputs: readonly RequestOutput[]): void {
    if (this.live.length === 0) return;
    const candidates = this.beams.filter((b) => b.tokens.length >= this.maxModelLen);
    this.live.forEach((beam, i) => {
      for (const [tokenId, entry] of outputs[i].outputs[0].logprobs?.[0] ?? new Map()) {
        const next = { tokens: [...beam.tokens, tokenId], cumulativeLogprob: beam.cumulativeLogprob + entry.logprob };
        if (!this.stepParams.ignoreEos && this.eosTokenIds.includes(tokenId)) this.finished.push(next);
        else candidates.push(next);
      }
    });
    this.beams = candidates.sort(this.byScore).slice(0, this.params.beamWidth);
    this.live = [];
    this.round++;
  }

  /** The beamWidth best beams, finished or not, best first. */
  best(tokenizer: Tokenizer): BeamSearchSequence[] {
    return [...this.finished, ...this.beams].sort(this.byScore).slice(0, this.params.beamWidth).map((b) => {
      const eosTokenId = this.finished.includes(b) ? b.tokens[b.tokens.length - 1] : null;
      const kept = eosTokenId !== null && !this.params.includeStopStrInOutput ? b.tokens.length - 1 : b.tokens.length;
      const tokenIds = b.tokens.slice(this.promptTokenIds.length, kept);
      return { tokenIds, text: tokenizer.decode(tokenIds, { skipSpecialTokens: true }), cumulativeLogprob: b.cumulativeLogprob, score: this.score(b), eosTokenId };
    });
  }

  private score(b: Beam): number {
    return beamSearchScore(b.tokens, b.cumulativeLogprob, this.eosTokenIds, this.params.lengthPenalty ?? 1);
  }

  private readonly byScore = (a: Beam, b: Beam) => this.score(b) - this.score(a);
}

/** Offline: every prompt's search together, one engine run per round for all their beams. */
export function beamSearch(engine: LLMEngine, prompts: readonly PromptInput[], params: BeamSearchParams, loraRequest: LoRARequest | null = null): BeamSearchOutput[] {
  const { tokenizer } = engine;
  const searches = prompts.map((p) => new BeamSearch(typeof p === "string" ? tokenizer.encode(p) : p.promptTokenIds, params, tokenizer.eosTokenIds, engine.config.maxModelLen));
  for (;;) {
    const rounds = searches.map((s) => s.roundPrompts());
    const requests = rounds.flatMap((round, i) => round.map((tokens) => ({ prompt: { promptTokenIds: tokens }, params: searches[i].stepParams, loraRequest })));
    if (requests.length === 0) break;
    const outputs = runToCompletion(engine, requests);
    let next = 0;
    rounds.forEach((round, i) => searches[i].advance(outputs.slice(next, (next += round.length))));
  }
  return searches.map((s) => ({ promptTokenIds: [...s.promptTokenIds], sequences: s.best(tokenizer) }));
}

/** The last output of a request's stream. */
async function finalOutput(outputs: AsyncIterable<RequestOutput>): Promise<RequestOutput> {
  let last: RequestOutput | undefined;
  for await (const output of outputs) last = output;
  if (last === undefined) throw new TsvllmError("TSVLLM_ERR_ABORTED", "a beam search round ended without an output");
  return last;
}

/**
 * One prompt's search through an engine client, as one finished RequestOutput whose outputs are the
 * beams, best first (finishReason "stop" for a beam ended by EOS, with the EOS as stopReason, else
 * "length"), as vLLM's server answers use_beam_search. Each round's requests are
 * `${requestId}-${round}-${beam}`; aborting `signal` aborts them and rejects with TSVLLM_ERR_ABORTED.
 */
export async function beamSearchRequest(client: EngineClient, promptTokenIds: readonly number[], params: BeamSearchParams, options: GenerateOptions): Promise<RequestOutput> {
  const arrivalTime = nowSeconds();
  const search = new BeamSearch(promptTokenIds, params, client.tokenizer.eosTokenIds, client.maxModelLen);
  for (let round = 0; ; round++) {
    const prompts = search.roundPrompts();
    if (prompts.length === 0) break;
    const outputs = await Promise.all(prompts.map((tokens, beam) => finalOutput(client.generate({ promptTokenIds: tokens }, search.stepParams, { ...options, requestId: `${options.requestId}-${round}-${beam}` }))));
    if (options.signal?.aborted) throw new TsvllmError("TSVLLM_ERR_ABORTED", `beam search ${options.requestId} was aborted`);
    search.advance(outputs);
  }
  const finishedTime = nowSeconds();
  return {
    requestId: options.requestId,
    prompt: null,
    promptTokenIds: [...promptTokenIds],
    promptLogprobs: null,
    outputs: search.best(client.tokenizer).map((s, index) => ({
      index,
      text: s.text,
      tokenIds: s.tokenIds,
      cumulativeLogprob: s.cumulativeLogprob,
      logprobs: null,
      finishReason: s.eosTokenId === null ? "length" : "stop",
      stopReason: s.eosTokenId,
    })),
    finished: true,
    metrics: { arrivalTime, firstScheduledTime: null, firstTokenTime: null, lastTokenTime: finishedTime, finishedTime },
  };
}
