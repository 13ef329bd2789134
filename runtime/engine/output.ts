// Builds the cumulative RequestOutput a caller sees: every sequence's text and tokens so far.
import { visibleOutputText } from "./stop-checker.ts";
import type { Request } from "./request.ts";
import { numLogprobs, type CompletionOutput, type RequestOutput } from "./types.ts";

export function makeRequestOutput(request: Request): RequestOutput {
  if (request.embedding !== null || request.probs !== null) {
    const pooled = request.embedding !== null ? { embedding: request.embedding } : { probs: request.probs! };
    return { requestId: request.requestId, prompt: request.prompt, promptTokenIds: request.promptTokenIds, promptLogprobs: null, outputs: [], finished: request.finished, metrics: { ...request.metrics }, ...pooled, numCachedTokens: request.numCachedTokens ?? 0 };
  }
  const wantsLogprobs = numLogprobs(request.params) !== null;
  const outputs: CompletionOutput[] = request.sequences.map((seq) => ({
    index: seq.index,
    text: visibleOutputText(seq),
    tokenIds: seq.outputTokenIds,
    cumulativeLogprob: wantsLogprobs ? seq.cumulativeLogprob : null,
    logprobs: seq.outputLogprobs === null ? null : [...seq.outputLogprobs],
    finishReason: seq.finishReason,
    stopReason: seq.stopReason,
  }));
  return {
    requestId: request.requestId,
    prompt: request.prompt,
    promptTokenIds: request.promptTokenIds,
    promptLogprobs: request.promptLogprobs === null ? null : [...request.promptLogprobs],
    ...(request.promptTokenIdLogprobs !== null && { promptTokenIdLogprobs: [...request.promptTokenIdLogprobs] }),
    outputs,
    finished: request.finished,
    metrics: { ...request.metrics },
    // A request aborted before it was scheduled read nothing from the cache.
    numCachedTokens: request.numCachedTokens ?? 0,
  };
}
