// A bounded loopback load test: 256 requests at 64 concurrency (streamed and whole, completions
// and chat) all complete with exact usage while 32 other clients hang up mid-stream; afterwards
// the engine is idle and /metrics says so.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { metricValue, startTestServer, waitFor, type TestServer } from "../support/server-harness.ts";

const M = "test-model";
const test = suite("server: load");
let server: TestServer;
let client: OpenAI;
const numRequests = 256;
const concurrency = 64;
const numDisconnects = 32;

test.before(async () => {
  server = await startTestServer({ fake: { tokenDelayMs: 1 } });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0, timeout: 60_000 });
});
test.after(async () => server.close());

interface Outcome {
  promptTokens: number;
  completionTokens: number;
  expectedPrompt: number;
  expectedCompletion: number;
}

/** ignore_eos makes every engine generate exactly max_tokens, so usage is known in advance. */
async function oneRequest(i: number): Promise<Outcome> {
  const prompt = `request ${i} ${"x".repeat(i % 17)}`;
  const maxTokens = 4 + (i % 9);
  const extra = { ignore_eos: true } as object;
  const tokenizer = server.engine.tokenizer;
  switch (i % 4) {
    case 0: {
      const answer = await client.completions.create({ model: M, prompt, max_tokens: maxTokens, ...extra });
      const expected = tokenizer.encode(prompt, { addSpecialTokens: true }).length;
      return { promptTokens: answer.usage!.prompt_tokens, completionTokens: answer.usage!.completion_tokens, expectedPrompt: expected, expectedCompletion: maxTokens };
    }
    case 1: {
      const stream = await client.completions.create({ model: M, prompt, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true }, ...extra });
      let usage: OpenAI.Completions.CompletionUsage | undefined;
      for await (const chunk of stream) usage = chunk.usage ?? usage;
      const expected = tokenizer.encode(prompt, { addSpecialTokens: true }).length;
      return { promptTokens: usage!.prompt_tokens, completionTokens: usage!.completion_tokens, expectedPrompt: expected, expectedCompletion: maxTokens };
    }
    case 2: {
      const answer = await client.chat.completions.create({ model: M, messages: [{ role: "user", content: prompt }], max_tokens: maxTokens, n: 2, ...extra });
      return { promptTokens: answer.usage!.prompt_tokens, completionTokens: answer.usage!.completion_tokens, expectedPrompt: answer.usage!.prompt_tokens, expectedCompletion: 2 * maxTokens };
    }
    default: {
      const stream = await client.chat.completions.create({
        model: M, messages: [{ role: "user", content: prompt }], max_tokens: maxTokens, stream: true, stream_options: { include_usage: true }, ...extra,
      });
      let usage: OpenAI.Completions.CompletionUsage | undefined;
      for await (const chunk of stream) usage = chunk.usage ?? usage;
      return { promptTokens: usage!.prompt_tokens, completionTokens: usage!.completion_tokens, expectedPrompt: usage!.prompt_tokens, expectedCompletion: maxTokens };
    }
  }
}

/** Reads the first chunk of a long stream, then hangs up. */
async function disconnecting(i: number): Promise<void> {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
    body: JSON.stringify({ model: M, prompt: `leaving ${i}`, max_tokens: 400, ignore_eos: true, stream: true, request_id: `leaver-${i}` }),
  });
  assert.is(response.status, 200);
  await response.body!.getReader().read();
  controller.abort();
}

test("256 requests at 64 concurrency complete with exact usage while 32 clients hang up", async () => {
  const outcomes: Outcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < numRequests) outcomes.push(await oneRequest(next++));
  };
  const leavers = Array.from({ length: numDisconnects }, (_, i) => disconnecting(i));
  await Promise.all([...Array.from({ length: concurrency }, worker), ...leavers]);
  assert.is(outcomes.length, numRequests);
  for (const o of outcomes) {
    assert.is(o.promptTokens, o.expectedPrompt);
    assert.is(o.completionTokens, o.expectedCompletion);
  }
  if (server.fake) {
    assert.ok(await waitFor(() => [...server.fake!.aborted].filter((id) => id.startsWith("leaver-")).length === numDisconnects));
  }
  const idle = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const labels = { model_name: M };
    return metricValue(text, "vllm:num_requests_running", labels) === 0
      && metricValue(text, "vllm:num_requests_waiting", labels) === 0
      && metricValue(text, "vllm:kv_cache_usage_perc", labels) === 0
      && metricValue(text, "vllm:request_success_total", { ...labels, finished_reason: "abort" }) === numDisconnects;
  };
  const settled = await waitFor(idle, 10_000);
  const snapshot = (await (await fetch(`${server.url}/metrics`)).text()).split("\n").filter((l) => /running|waiting|usage_perc|success/.test(l) && !l.startsWith("#"));
  assert.ok(settled, `metrics show an idle engine and every abort:\n${snapshot.join("\n")}`);
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const finishedByLength = metricValue(text, "vllm:request_success_total", { model_name: M, finished_reason: "length" });
  assert.is(finishedByLength, numRequests + numRequests / 4);
  assert.is((await fetch(`${server.url}/health`)).status, 200);
});

test.run();
