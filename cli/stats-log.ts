// The lines `tsvllm serve` logs every 10 s while there is traffic, in vLLM's wording: throughput,
// queue and cache, and (with speculative decoding) how many drafts were accepted.
import type { EngineStats } from "../runtime/engine/types.ts";

/** What happened between two readings of the engine's stats, `seconds` apart; none when idle. */
export function statsLines(previous: EngineStats, current: EngineStats, seconds: number): string[] {
  const prompt = (current.promptTokens - previous.promptTokens) / seconds;
  const generation = (current.generationTokens - previous.generationTokens) / seconds;
  if (prompt === 0 && generation === 0 && current.numRequestsRunning === 0 && current.numRequestsWaiting === 0) return [];
  const queries = current.prefixCacheQueries - previous.prefixCacheQueries;
  const hitRate = queries > 0 ? (100 * (current.prefixCacheHits - previous.prefixCacheHits)) / queries : 0;
  const swapped = current.numRequestsSwapped > 0 ? `, Swapped: ${current.numRequestsSwapped} reqs` : "";
  const lines = [
    `Avg prompt throughput: ${prompt.toFixed(1)} tokens/s, Avg generation throughput: ${generation.toFixed(1)} tokens/s, Running: ${current.numRequestsRunning} reqs, Waiting: ${current.numRequestsWaiting} reqs${swapped}, KV cache usage: ${(100 * current.kvCacheUsagePerc).toFixed(1)}%, Prefix cache hit rate: ${hitRate.toFixed(1)}%`,
  ];
  const drafts = current.specDecodeNumDrafts - previous.specDecodeNumDrafts;
  if (drafts > 0) {
    const drafted = current.specDecodeNumDraftTokens - previous.specDecodeNumDraftTokens;
    const accepted = current.specDecodeNumAcceptedTokens - previous.specDecodeNumAcceptedTokens;
    // A verification step yields its accepted drafts and one token of its own.
    lines.push(
      `SpecDecoding metrics: Mean acceptance length: ${(1 + accepted / drafts).toFixed(2)}, Accepted throughput: ${(accepted / seconds).toFixed(2)} tokens/s, Drafted throughput: ${(drafted / seconds).toFixed(2)} tokens/s, Accepted: ${accepted} tokens, Drafted: ${drafted} tokens, Avg Draft acceptance rate: ${((100 * accepted) / drafted).toFixed(1)}%`,
    );
  }
  return lines;
}
