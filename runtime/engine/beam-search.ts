// Beam search as vLLM's LLM.beam_search does it, on top of the engine rather than inside it: each
// round asks every live beam for its 2 * beamWidth most likely next tokens (one-token requests
// whose prompt is the beam), keeps the beamWidth best by length-penalised score, and moves beams
// that end in EOS to the finished list. Beams share their common prefix through the prefix cache,
// so a round recomputes only each beam's last partial block.
import type { LLMEngine } from "./llm-engine.ts";
import { runToCompletion } from "./run-to-completion.ts";
import { samplingParams, type PromptInput } from "./types.ts";

export interface BeamSearchParams {
  beamWidth: number;
  maxTokens: number;
  ignoreEos?: boolean;
  temperature?: number;
  /** Scores are cumulative log-prob / length ** lengthPenalty. */
  lengthPenalty?: number;
}

export interface BeamSearchSequence {
  /** Generated tokens, without the prompt. */
  tokenIds: number[];
  text: string;
  cumulativeLogprob: number;
  score: number;
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

export function beamSearch(engine: LLMEngine, prompts: readonly PromptInput[], params: BeamSearchParams): BeamSearchOutput[] {
  const { beamWidth, maxTokens } = params;
  const lengthPenalty = params.lengthPenalty ?? 1;
  const eos = engine.tokenizer.eosTokenIds;
  const score = (b: Beam) => beamSearchScore(b.tokens, b.cumulativeLogprob, eos, lengthPenalty);
  const byScore = (a: Beam, b: Beam) => score(b) - score(a);
  const stepParams = samplingParams({ maxTokens: 1, logprobs: 2 * beamWidth, temperature: params.temperature ?? 0, ignoreEos: params.ignoreEos ?? false });
  const instances = prompts.map((p) => {
    const promptTokenIds = typeof p === "string" ? engine.tokenizer.encode(p) : [...p.promptTokenIds];
    return { promptTokenIds, beams: [{ tokens: promptTokenIds, cumulativeLogprob: 0 }] as Beam[], finished: [] as Beam[] };
  });
  for (let step = 0; step < maxTokens; step++) {
    const live = instances.flatMap((inst) => inst.beams.filter((b) => b.tokens.length < engine.config.maxModelLen).map((beam) => ({ inst, beam })));
    if (live.length === 0) break;
    const outputs = runToCompletion(engine, live.map(({ beam }) => ({ prompt: { promptTokenIds: beam.tokens }, params: stepParams })));
    for (const inst of instances) inst.beams = inst.beams.filter((b) => b.tokens.length >= engine.config.maxModelLen);
    const candidates = new Map<(typeof instances)[number], Beam[]>();
    live.forEach(({ inst, beam }, i) => {
      const logprobs = outputs[i].outputs[0].logprobs?.[0] ?? new Map();
      for (const [tokenId, entry] of logprobs) {
        const next = { tokens: [...beam.tokens, tokenId], cumulativeLogprob: beam.cumulativeLogprob + entry.logprob };
        if (!stepParams.ignoreEos && eos.includes(tokenId)) inst.finished.push(next);
        else candidates.set(inst, [...(candidates.get(inst) ?? []), next]);
      }
    });
    for (const inst of instances) inst.beams = [...inst.beams, ...(candidates.get(inst) ?? [])].sort(byScore).slice(0, beamWidth);
  }
  return instances.map((inst) => ({
    promptTokenIds: inst.promptTokenIds,
    sequences: [...inst.finished, ...inst.beams]
      .sort(byScore)
      .slice(0, beamWidth)
      .map((b) => {
        const tokenIds = b.tokens.slice(inst.promptTokenIds.length);
        return { tokenIds, text: engine.tokenizer.decode(tokenIds, { skipSpecialTokens: true }), cumulativeLogprob: b.cumulativeLogprob, score: score(b) };
      }),
  }));
}
