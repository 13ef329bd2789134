// `tsvllm bench serve` against a test server: every request succeeds, token totals are exact,
// latency statistics are sane, and the printout has vLLM's layout.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomTokenPrompts, randomWordPrompts } from "../../server/bench-dataset.ts";
import { benchServe, formatBenchResult, percentile } from "../../server/bench-serve.ts";
import { startTestServer, type TestServer } from "../support/server-harness.ts";

const test = suite("server: bench serve");
let server: TestServer;

test.before(async () => {
  server = await startTestServer({ fake: { tokenDelayMs: 1 } });
});
test.after(async () => server.close());

test("percentile interpolates like numpy", () => {
  assert.is(percentile([1, 2, 3, 4], 50), 2.5);
  assert.is(percentile([5], 99), 5);
  assert.is(percentile([], 50), 0);
  assert.ok(Math.abs(percentile([0, 10], 99) - 9.9) < 1e-9);
});

test("the random dataset is seeded and has the requested lengths", async () => {
  const options = { numPrompts: 5, inputLen: 12, outputLen: 4, rangeRatio: 0, seed: 3 };
  assert.equal(randomTokenPrompts(options, 100), randomTokenPrompts(options, 100));
  assert.not.equal(randomTokenPrompts(options, 100), randomTokenPrompts({ ...options, seed: 4 }, 100));
  assert.ok(randomTokenPrompts(options, 100).every((p) => p.tokenIds.length === 12 && p.outputLen === 4));
  const words = await randomWordPrompts(options, async (text) => [...Buffer.from(text)]);
  assert.ok(words.every((p) => p.tokenIds.length === 12));
  const varied = randomTokenPrompts({ ...options, numPrompts: 50, rangeRatio: 0.5 }, 100);
  assert.ok(varied.every((p) => p.tokenIds.length >= 6 && p.tokenIds.length <= 18));
});

test("a closed-loop run: all succeed with exact token totals", async () => {
  const result = await benchServe({
    baseUrl: server.url, numPrompts: 24, randomInputLen: 16, randomOutputLen: 8, maxConcurrency: 4, ignoreEos: true, seed: 1,
  });
  assert.is(result.completed, 24);
  assert.is(result.failed, 0);
  assert.is(result.totalInputTokens, 24 * 16);
  assert.is(result.totalOutputTokens, 24 * 8);
  assert.ok(result.peakConcurrentRequests <= 4);
  assert.ok(result.duration > 0);
  assert.ok(Math.abs(result.outputThroughput - result.totalOutputTokens / result.duration) < 1e-6);
  for (const stats of [result.ttft, result.tpot, result.itl, result.e2el]) {
    assert.ok(stats.meanMs > 0 && stats.medianMs > 0 && stats.p99Ms >= stats.medianMs);
  }
  assert.ok(result.e2el.meanMs >= result.ttft.meanMs);
  const printed = formatBenchResult(result);
  assert.match(printed, /^=+ Serving Benchmark Result =+$/m);
  assert.match(printed, /^Successful requests:\s+24$/m);
  assert.match(printed, /^Total generated tokens:\s+192$/m);
  assert.match(printed, /^-+Time to First Token-+$/m);
  for (const label of ["Mean TTFT (ms):", "Median TPOT (ms):", "P99 ITL (ms):", "Mean E2EL (ms):", "Request throughput (req/s):"]) {
    assert.ok(printed.includes(label), label);
  }
});

test("an open-loop Poisson run with token-id prompts", async () => {
  const result = await benchServe({
    baseUrl: server.url, model: "test-model", numPrompts: 10, randomInputLen: 8, randomOutputLen: 4, requestRate: 200,
    dataset: "random-tokens", vocabSize: 256, ignoreEos: true,
  });
  assert.is(result.completed, 10);
  assert.is(result.totalOutputTokens, 40);
  assert.match(formatBenchResult(result), /Request rate configured \(RPS\):\s+200\.00/);
});

test("failed requests are counted, not thrown", async () => {
  const result = await benchServe({
    baseUrl: server.url, model: "test-model", numPrompts: 3, randomInputLen: 4, randomOutputLen: 2000, dataset: "random-tokens", vocabSize: 256,
  });
  assert.is(result.completed, 0);
  assert.is(result.failed, 3);
  assert.match(result.errors[0], "400");
});

test.run();
