// Clients that go away abort their engine requests; a full waiting queue is a 503.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { postJson, startTestServer, waitFor, type TestServer } from "../support/server-harness.ts";

const M = "test-model";
const test = suite("server: disconnects and overload");
let slow: TestServer;

/** Starts a long streamed completion and returns once its first chunk has arrived. */
async function startStream(url: string, requestId: string, controller: AbortController): Promise<void> {
  const response = await fetch(`${url}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
    body: JSON.stringify({ prompt: "a long story", max_tokens: 400, ignore_eos: true, stream: true, request_id: requestId }),
  });
  assert.is(response.status, 200);
  const reader = response.body!.getReader();
  await reader.read();
}

test.before(async () => {
  slow = await startTestServer({ fake: { tokenDelayMs: 5 } });
});
test.after(async () => slow.close());

test("a client that disconnects mid-stream aborts its engine request", async () => {
  if (!slow.fake) return;
  const controller = new AbortController();
  await startStream(slow.url, "mid-stream", controller);
  controller.abort();
  assert.ok(await waitFor(() => slow.fake!.aborted.has("mid-stream")), "the engine saw the abort");
  assert.not.ok(slow.fake.finished.has("mid-stream"));
  assert.ok(await waitFor(() => slow.engine.stats().numRequestsRunning === 0));
});

test("a client that disconnects before a whole answer aborts its engine request", async () => {
  if (!slow.fake) return;
  const controller = new AbortController();
  const request = fetch(`${slow.url}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
    body: JSON.stringify({ prompt: "never read", max_tokens: 400, ignore_eos: true, request_id: "non-stream" }),
  }).catch((err: unknown) => err);
  assert.ok(await waitFor(() => slow.fake!.requests.some((r) => r.requestId === "non-stream")));
  controller.abort();
  await request;
  assert.ok(await waitFor(() => slow.fake!.aborted.has("non-stream")), "the engine saw the abort");
});

test("the openai client's abort reaches the engine too", async () => {
  if (!slow.fake) return;
  const client = new OpenAI({ baseURL: slow.baseURL, apiKey: "unused", maxRetries: 0 });
  const stream = await client.completions.create({ model: M, prompt: "abort me", max_tokens: 400, stream: true, ...({ ignore_eos: true, request_id: "sdk" } as object) });
  for await (const chunk of stream) {
    assert.is(chunk.choices.length, 1);
    stream.controller.abort();
  }
  assert.ok(await waitFor(() => slow.fake!.aborted.has("sdk")));
});

test("an engine that reports a full queue gets a 503; the server recovers", async () => {
  const busy = await startTestServer({ fake: { tokenDelayMs: 5, maxNumSeqs: 1, maxWaiting: 1 } });
  try {
    if (!busy.fake) return; // needs an engine with a one-request batch and a one-request queue
    const controllers = [new AbortController(), new AbortController()];
    await startStream(busy.url, "running", controllers[0]);
    const waiting = fetch(`${busy.url}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" }, signal: controllers[1].signal,
      body: JSON.stringify({ prompt: "wait", max_tokens: 5, stream: true }),
    }).catch((err: unknown) => err);
    assert.ok(await waitFor(() => busy.engine.stats().numRequestsWaiting === 1));
    const { status, json } = await postJson(`${busy.url}/v1/completions`, { prompt: "one too many", max_tokens: 2 });
    assert.is(status, 503);
    assert.is(json.error.code, "queue_full");
    for (const c of controllers) c.abort();
    await waiting;
    assert.ok(await waitFor(() => busy.engine.stats().numRequestsRunning + busy.engine.stats().numRequestsWaiting === 0));
    assert.is((await postJson(`${busy.url}/v1/completions`, { prompt: "ok now", max_tokens: 2 })).status, 200);
  } finally {
    await busy.close();
  }
});

test("the server's own maxWaiting limit answers 503 before submitting", async () => {
  const limited = await startTestServer({ fake: { tokenDelayMs: 5, maxNumSeqs: 1 }, server: { maxWaiting: 1 } });
  try {
    if (!limited.fake) return; // needs an engine with a one-request batch
    const controllers = [new AbortController(), new AbortController()];
    await startStream(limited.url, "running", controllers[0]);
    const waiting = fetch(`${limited.url}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" }, signal: controllers[1].signal,
      body: JSON.stringify({ prompt: "wait", max_tokens: 5 }),
    }).catch((err: unknown) => err);
    assert.ok(await waitFor(() => limited.engine.stats().numRequestsWaiting === 1));
    const before = limited.fake?.requests.length;
    const { status, json } = await postJson(`${limited.url}/v1/chat/completions`, { messages: [{ role: "user", content: "x" }] });
    assert.is(status, 503);
    assert.is(json.error.code, "queue_full");
    assert.is(limited.fake?.requests.length, before);
    for (const c of controllers) c.abort();
    await waiting;
  } finally {
    await limited.close();
  }
});

test.run();
