// The periodic stats lines of `tsvllm serve` (cli/stats-log.ts): rates over the interval, the queue
// and cache line in vLLM's wording, swapped requests only when there are some, and a speculative
// decoding line only when drafts were verified in the interval.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { statsLines } from "../../cli/stats-log.ts";
import type { EngineStats } from "../../runtime/engine/types.ts";

const idle: EngineStats = {
  numRequestsRunning: 0, numRequestsWaiting: 0, numRequestsSwapped: 0, kvCacheUsagePerc: 0, cpuCacheUsagePerc: 0, prefixCacheQueries: 0, prefixCacheHits: 0,
  numPreemptions: 0, promptTokens: 0, generationTokens: 0, specDecodeNumDrafts: 0, specDecodeNumDraftTokens: 0, specDecodeNumAcceptedTokens: 0,
};

test("an idle interval logs nothing", () => {
  assert.equal(statsLines(idle, idle, 10), []);
});

test("throughput, queue and cache over the interval", () => {
  const busy = { ...idle, promptTokens: 500, generationTokens: 200, numRequestsRunning: 3, numRequestsWaiting: 1, kvCacheUsagePerc: 0.25, prefixCacheQueries: 400, prefixCacheHits: 100 };
  assert.equal(statsLines(idle, busy, 10), [
    "Avg prompt throughput: 50.0 tokens/s, Avg generation throughput: 20.0 tokens/s, Running: 3 reqs, Waiting: 1 reqs, KV cache usage: 25.0%, Prefix cache hit rate: 25.0%",
  ]);
  assert.match(statsLines(idle, { ...busy, numRequestsSwapped: 2 }, 10)[0], /Waiting: 1 reqs, Swapped: 2 reqs, KV cache/);
});

test("drafts verified in the interval add the speculative decoding line", () => {
  const before = { ...idle, generationTokens: 100, specDecodeNumDrafts: 10, specDecodeNumDraftTokens: 40, specDecodeNumAcceptedTokens: 10 };
  const after = { ...before, generationTokens: 160, specDecodeNumDrafts: 30, specDecodeNumDraftTokens: 120, specDecodeNumAcceptedTokens: 40 };
  const lines = statsLines(before, after, 10);
  assert.is(lines.length, 2);
  assert.is(lines[1], "SpecDecoding metrics: Mean acceptance length: 2.50, Accepted throughput: 3.00 tokens/s, Drafted throughput: 8.00 tokens/s, Accepted: 30 tokens, Drafted: 80 tokens, Avg Draft acceptance rate: 37.5%");
  assert.is(statsLines(after, { ...after, generationTokens: 170 }, 10).length, 1, "no drafts in the interval: no line");
});

test.run();
