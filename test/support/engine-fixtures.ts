// Builds engine objects directly for unit tests that do not need a whole engine.
import { Request } from "../../runtime/engine/request.ts";
import { samplingParams, type SamplingParams } from "../../runtime/engine/types.ts";
import { EngineTestTokenizer } from "./engine-tokenizer.ts";

let nextId = 0;

export function makeTestRequest(
  promptTokenIds: number[],
  params: Partial<SamplingParams> = {},
  options: { seed?: bigint; eosTokenIds?: number[]; badWordsTokenIds?: number[][]; priority?: number; cacheSalt?: string } = {},
): Request {
  const tokenizer = new EngineTestTokenizer();
  const resolved = samplingParams(params);
  return new Request({
    requestId: `test-${nextId++}`,
    prompt: null,
    promptTokenIds,
    params: resolved,
    priority: options.priority ?? 0,
    arrivalTime: nextId,
    cacheSalt: options.cacheSalt ?? null,
    rngSeed: options.seed ?? 1234n,
    eosTokenIds: options.eosTokenIds ?? [2],
    badWordsTokenIds: options.badWordsTokenIds ?? [],
    maxOutputTokens: resolved.maxTokens,
    grammar: null,
    createDetokenizer: () => tokenizer.createDetokenizer(),
  });
}
