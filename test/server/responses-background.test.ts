// Background responses (`background: true`) through the openai client, as vLLM runs them: queued at
// once, polled through in_progress to the answer a plain request gets; cancelled mid-generation
// (the engine sees the abort); refused without the store; "failed" when the generation throws;
// streamed, and streamed again from `starting_after`; and aborted, not waited for, at shutdown.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startServer } from "../../server/start.ts";
import { FakeEngine } from "../support/server-fake-engine.ts";
import { postJson, startTestServer, waitFor, type TestServer } from "../support/server-harness.ts";
import { clientOf, ContentsTokenizer, M, reversed, streamEvents } from "./responses-support.ts";

const test = suite("server: /v1/responses in the background");
let server: TestServer;
let client: OpenAI;
const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown) => unhandled.push(reason);

/** Polls a response until it ends, returning each status it was seen in, in order. */
async function statusesOf(id: string): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const { status } = await client.responses.retrieve(id);
    if (status !== seen.at(-1)) seen.push(status!);
    if (!["queued", "in_progress"].includes(status!)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const cancelUrl = (id: string) => `${server.url}/v1/responses/${id}/cancel`;

test.before(async () => {
  process.on("unhandledRejection", recordUnhandled);
  server = await startTestServer({ fake: { tokenizer: new ContentsTokenizer(), tokenDelayMs: 5 }, server: { responsesStore: true } });
  client = clientOf(server);
});
test.after(async () => {
  await server.close();
  process.off("unhandledRejection", recordUnhandled);
});

test("a background response is queued at once, runs in_progress and ends with the answer a plain request gets", async () => {
  const input = reversed("An answer written in the background.");
  const queued = await client.responses.create({ model: M, input, background: true });
  assert.is(queued.status, "queued");
  assert.is(queued.background, true);
  assert.equal(queued.output, []);
  assert.is(queued.usage, null);
  const seen = await statusesOf(queued.id);
  assert.ok(seen.includes("in_progress"), seen.join());
  assert.equal(seen.filter((s) => s !== "queued"), ["in_progress", "completed"]);
  const done = await client.responses.retrieve(queued.id);
  const plain = await client.responses.create({ model: M, input });
  assert.is(done.output_text, plain.output_text);
  assert.equal(done.usage, plain.usage);
  assert.is(done.background, true);
  if (!server.fake) return;
  await client.responses.create({ model: M, previous_response_id: queued.id, input: "More." });
  const prompt = server.engine.tokenizer.decode(server.fake.requests.at(-1)!.promptTokenIds, { skipSpecialTokens: true });
  assert.is(prompt, `${input}${plain.output_text}More.`);
});

test("cancelling a running background response aborts its engine request and leaves it cancelled; it cannot be cancelled twice", async () => {
  const queued = await client.responses.create({ model: M, input: "a long answer ".repeat(25), background: true });
  assert.ok(await waitFor(async () => (await client.responses.retrieve(queued.id)).status === "in_progress"));
  const cancelled = await client.responses.cancel(queued.id);
  assert.is(cancelled.status, "cancelled");
  assert.is(cancelled.id, queued.id);
  assert.is((await client.responses.retrieve(queued.id)).status, "cancelled");
  if (server.fake) {
    assert.ok(server.fake.aborted.has(queued.id), "the engine saw the abort");
    assert.not.ok(server.fake.finished.has(queued.id));
  }
  assert.ok(await waitFor(() => server.engine.stats().numRequestsRunning === 0), "the engine request is gone");
  const again = await postJson(cancelUrl(queued.id), {});
  assert.is(again.status, 400);
  assert.equal(again.json.error, { message: "Cannot cancel a synchronous response.", type: "invalid_request_error", param: "response_id", code: "invalid_parameter" });
  const finished = await client.responses.create({ model: M, input: "done", background: true });
  await statusesOf(finished.id);
  assert.is((await postJson(cancelUrl(finished.id), {})).status, 400);
});

test("background needs the store: a 400 on a server without it, and with store false", async () => {
  const plain = await startTestServer({ server: { responsesStore: false } });
  try {
    const { status, json } = await postJson(`${plain.url}/v1/responses`, { model: M, input: "x", background: true });
    assert.is(status, 400);
    assert.is(json.error.type, "invalid_request_error");
    assert.is(json.error.param, "background");
    assert.match(json.error.message, "VLLM_ENABLE_RESPONSES_API_STORE=1");
    try {
      await clientOf(plain).responses.create({ model: M, input: "x", background: true });
      assert.unreachable("a background response without a store was accepted");
    } catch (err) {
      assert.instance(err, OpenAI.BadRequestError);
    }
  } finally {
    await plain.close();
  }
  const unstored = await postJson(`${server.url}/v1/responses`, { model: M, input: "x", background: true, store: false });
  assert.is(unstored.status, 400);
  assert.equal(unstored.json.error, { message: "background can only be used when `store` is true", type: "invalid_request_error", param: "background", code: "invalid_parameter" });
});

test("a background generation that throws ends failed with an error object, and nothing is left unhandled", async () => {
  const fake = server.fake;
  if (!fake) return;
  const generate = fake.generate;
  fake.generate = (prompt, params, options) => (async function* () {
    for await (const output of generate.call(fake, prompt, params, options)) {
      yield output;
      throw new Error("the device fell over");
    }
  })();
  try {
    const queued = await client.responses.create({ model: M, input: "doomed", background: true });
    assert.equal(await statusesOf(queued.id).then((seen) => seen.at(-1)), "failed");
    const failed = await client.responses.retrieve(queued.id);
    assert.equal(failed.error, { code: "internal_error", message: "The server had an error while processing your request." } as unknown as OpenAI.Responses.ResponseError);
    assert.equal(failed.output, []);
  } finally {
    fake.generate = generate;
  }
  assert.equal(unhandled, []);
});

test("a streamed background response streams as a plain one, outlives its client, and streams again from starting_after", async () => {
  const input = reversed("Streamed in the background.");
  const events = await streamEvents(server, { model: M, input, background: true });
  assert.is(events[0].type, "response.created");
  const completed = (events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response;
  assert.is(completed.status, "completed");
  assert.is(completed.background, true);
  assert.equal(events.map((e) => e.sequence_number), events.map((_, i) => i));
  const plain = await streamEvents(server, { model: M, input });
  assert.equal(events.map((e) => e.type), plain.map((e) => e.type));
  const replay: OpenAI.Responses.ResponseStreamEvent[] = [];
  for await (const event of await client.responses.retrieve(completed.id, { stream: true, starting_after: 2 })) replay.push(event);
  assert.equal(replay, events.slice(3));
  const unstreamed = await client.responses.create({ model: M, input: "x" });
  assert.is((await fetch(`${server.url}/v1/responses/${unstreamed.id}?stream=true`)).status, 400);

  const controller = new AbortController();
  const response = await fetch(`${server.url}/v1/responses`, {
    method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
    body: JSON.stringify({ model: M, input: "left behind ".repeat(10), background: true, stream: true }),
  });
  const id = response.headers.get("x-request-id")!;
  await response.body!.getReader().read();
  controller.abort();
  assert.equal((await statusesOf(id)).at(-1), "completed");
});

test("shutdown aborts running background responses instead of waiting for them, and ends their streams", async () => {
  const engine = new FakeEngine({ tokenDelayMs: 20 });
  const running = await startServer({ engine, host: "127.0.0.1", port: 0, logger: false, handleSignals: false, servedModelName: [M], responsesStore: true });
  // 200 tokens at 20 ms each would take 4 s.
  const { json } = await postJson(`${running.url}/v1/responses`, { model: M, input: "x".repeat(200), background: true });
  const streamed = await fetch(`${running.url}/v1/responses`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: M, input: "y".repeat(200), background: true, stream: true }),
  });
  const reader = streamed.body!.getReader();
  await reader.read();
  const started = Date.now();
  await running.close();
  assert.ok(Date.now() - started < 1000, `closing took ${Date.now() - started} ms`);
  assert.ok(engine.aborted.has(json.id), "the engine saw the abort");
  let rest = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += new TextDecoder().decode(chunk.value);
  assert.match(rest, '"code":"shutting_down"');
});

test.run();
