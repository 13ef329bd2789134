// SageMaker's routes as vLLM serves them: /ping answers as /health (GET and POST, no API key), and
// POST /invocations serves a body through the first request type it fits (chat, then completions
// for a generative model; embeddings, rerank, then score for an embedding model), else a 400.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { postJson, startTestServer, type TestServer } from "../support/server-harness.ts";
import { startPoolingServers, type PoolingServers } from "./pooling-servers.ts";

const test = suite("server: /ping and /invocations");
let server: TestServer;
let keyed: TestServer;
let pooling: PoolingServers;

test.before(async () => {
  server = await startTestServer();
  keyed = await startTestServer({ server: { apiKey: "sk-right" } });
  pooling = await startPoolingServers({ model: "../shared/models/stories260K-hf", maxNumSeqs: 8, maxModelLen: 256, logger: () => {} });
});
test.after(async () => {
  await server.close();
  await keyed.close();
  await pooling?.close();
});

test("/ping answers 200 to GET and POST, without the API key", async () => {
  for (const method of ["GET", "POST"]) {
    const response = await fetch(`${keyed.url}/ping`, { method });
    assert.is(response.status, 200, method);
    assert.is(await response.text(), "");
  }
});

test("a body with messages is a chat completion, even with a prompt beside them", async () => {
  const body = { messages: [{ role: "user", content: "hi" }], prompt: "ignored", max_tokens: 3 };
  const { status, json } = await postJson(`${server.url}/invocations`, body);
  assert.is(status, 200);
  assert.is(json.object, "chat.completion");
  const direct = await postJson(`${server.url}/v1/chat/completions`, body);
  assert.is(json.choices[0].message.content, direct.json.choices[0].message.content);
});

test("a body with a prompt is a completion, streamed when asked", async () => {
  const { status, json } = await postJson(`${server.url}/invocations`, { prompt: "hello", max_tokens: 4 });
  assert.is(status, 200);
  assert.is(json.object, "text_completion");
  const direct = await postJson(`${server.url}/v1/completions`, { prompt: "hello", max_tokens: 4 });
  assert.is(json.choices[0].text, direct.json.choices[0].text);
  const streamed = await fetch(`${server.url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "hello", max_tokens: 4, stream: true }) });
  assert.is(streamed.headers.get("content-type")?.split(";")[0], "text/event-stream");
  assert.ok((await streamed.text()).trimEnd().endsWith("data: [DONE]"));
});

test("a body no request type fits is a 400 naming the types tried", async () => {
  for (const body of [{ input: "embed me" }, { messages: "not a list" }, {}]) {
    const { status, json } = await postJson(`${server.url}/invocations`, body);
    assert.is(status, 400);
    assert.is(json.error.code, "unknown_invocation");
    assert.match(json.error.message, "ChatCompletionRequest, CompletionRequest");
  }
});

test("/invocations keeps the API key the other inference routes want", async () => {
  const refused = await postJson(`${keyed.url}/invocations`, { prompt: "hello", max_tokens: 1 });
  assert.is(refused.status, 401);
  const allowed = await postJson(`${keyed.url}/invocations`, { prompt: "hello", max_tokens: 1 }, { authorization: "Bearer sk-right" });
  assert.is(allowed.status, 200);
});

test("an embedding model serves input as embeddings, query and documents as rerank, text_1 and text_2 as score", async () => {
  const at = `${pooling.base}/invocations`;
  const embedded = await postJson(at, { input: ["Once upon a time"] });
  assert.is(embedded.json.object, "list");
  assert.equal(embedded.json.data[0].embedding, (await postJson(`${pooling.base}/v1/embeddings`, { input: ["Once upon a time"] })).json.data[0].embedding);
  const reranked = await postJson(at, { query: "a dog", documents: ["The dog ran.", "Lily sang."] });
  assert.is(reranked.json.results.length, 2);
  assert.type(reranked.json.results[0].relevance_score, "number");
  const scored = await postJson(at, { text_1: "a dog", text_2: ["The dog ran.", "Lily sang."] });
  assert.equal(scored.json.data.map((d: { object: string }) => d.object), ["score", "score"]);
  const chat = await postJson(at, { messages: [{ role: "user", content: "hi" }] });
  assert.is(chat.status, 400);
  assert.match(chat.json.error.message, "EmbeddingRequest, RerankRequest, ScoreRequest");
});

test.run();
