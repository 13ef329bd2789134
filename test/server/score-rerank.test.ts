// vLLM's /score and /rerank for an embedding model, on stories260K served as a pooling model. The
// oracle is /v1/embeddings (through the openai client): a pair's score is the cosine of the two
// texts' embeddings, and rerank's order is those scores sorted, best first. Shapes follow vLLM's
// protocol (ScoreResponse, RerankResponse); bad input, and a generative server, get 400s in
// OpenAI's error shape; every embedded text counts as an engine request in /metrics.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { metricValue, postJson } from "../support/server-harness.ts";
import { startPoolingServers, type PoolingServers } from "./pooling-servers.ts";

const test = suite("/score and /rerank");
const model = "../shared/models/stories260K-hf";
const query = "The little dog ran to the park.";
const documents = ["Once upon a time", "The dog ran to the big park.", "Lily and Ben ate a red apple.", "A little dog ran."];
const options = { model, maxNumSeqs: 8, maxModelLen: 256, logger: () => {} };
let servers: PoolingServers;

test.before(async () => {
  servers = await startPoolingServers(options);
});
test.after(() => servers?.close());

const cosine = (a: number[], b: number[]) => a.reduce((s, x, k) => s + x * b[k], 0) / Math.hypot(...a) / Math.hypot(...b);
const numTokens = (text: string) => servers.pooling.tokenizer.encode(text).length;

async function embeddings(texts: string[]): Promise<number[][]> {
  return (await servers.client.embeddings.create({ model: "stories", input: texts, encoding_format: "float" })).data.map((d) => d.embedding);
}

test("/score, one text against many: the cosine of their /v1/embeddings embeddings, in vLLM's response shape", async () => {
  const [q, ...docs] = await embeddings([query, ...documents]);
  const { status, json } = await postJson(`${servers.base}/score`, { model: "stories", text_1: query, text_2: documents });
  assert.is(status, 200);
  assert.match(json.id, /^score-/);
  assert.is(json.object, "list");
  assert.is(json.model, "stories");
  assert.is(json.data.length, documents.length);
  json.data.forEach((d: { index: number; object: string; score: number }, j: number) => {
    assert.equal([d.index, d.object], [j, "score"]);
    assert.ok(Math.abs(d.score - cosine(q, docs[j])) < 1e-6, `pair ${j}`);
  });
  const tokens = documents.reduce((n, d) => n + numTokens(query) + numTokens(d), 0);
  assert.equal(json.usage, { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0 });
});

test("/v1/score pairs N texts with N texts one to one, and a single pair of strings", async () => {
  const all = await embeddings([...documents.slice(0, 2), ...documents.slice(2)]);
  const pairwise = await postJson(`${servers.base}/v1/score`, { text_1: documents.slice(0, 2), text_2: documents.slice(2) });
  assert.is(pairwise.status, 200);
  pairwise.json.data.forEach((d: { score: number }, j: number) => assert.ok(Math.abs(d.score - cosine(all[j], all[j + 2])) < 1e-6, `pair ${j}`));
  const single = await postJson(`${servers.base}/v1/score`, { text_1: documents[0], text_2: documents[0] });
  assert.is(single.json.data.length, 1);
  assert.ok(Math.abs(single.json.data[0].score - 1) < 1e-6, "a text scores 1 against itself");
});

test("/rerank, /v1/rerank and /v2/rerank: documents by score, best first, top_n of them, with their text", async () => {
  const [q, ...docs] = await embeddings([query, ...documents]);
  const order = docs.map((d, index) => ({ index, score: cosine(q, d) })).sort((a, b) => b.score - a.score);
  for (const path of ["/rerank", "/v1/rerank", "/v2/rerank"]) {
    const { status, json } = await postJson(`${servers.base}${path}`, { model: "stories", query, documents, top_n: 3 });
    assert.is(status, 200, path);
    assert.match(json.id, /^rerank-/);
    assert.is(json.model, "stories");
    assert.equal(json.results.map((r: { index: number }) => r.index), order.slice(0, 3).map((o) => o.index), path);
    json.results.forEach((r: { index: number; relevance_score: number; document: { text: string } }, k: number) => {
      assert.ok(Math.abs(r.relevance_score - order[k].score) < 1e-6);
      assert.equal(r.document, { text: documents[r.index] });
    });
    const tokens = documents.reduce((n, d) => n + numTokens(query) + numTokens(d), 0);
    assert.equal(json.usage, { total_tokens: tokens, prompt_tokens: tokens });
  }
  const all = await postJson(`${servers.base}/rerank`, { query, documents, return_documents: false });
  assert.is(all.json.results.length, documents.length, "top_n absent: every document");
  assert.ok(all.json.results.every((r: object) => !("document" in r)), "return_documents false leaves the documents out");
});

test("malformed input gets a 400 in OpenAI's error shape; so do both routes on a generative server, naming the task", async () => {
  const cases: [string, unknown, RegExp][] = [
    ["/score", { text_1: documents.slice(0, 2), text_2: documents.slice(0, 3) }, /Input lengths must be either 1:1, 1:N or N:N/],
    ["/score", { text_1: [], text_2: documents }, /At least one text element must be given/],
    ["/rerank", { query, documents: [] }, /At least one text_pair element must be given/],
    ["/rerank", { documents }, /query/],
    ["/score", { text_1: query, text_2: [1, 2] }, /text_2/],
  ];
  for (const [path, body, message] of cases) {
    const { status, json } = await postJson(`${servers.base}${path}`, body);
    assert.is(status, 400, JSON.stringify(body));
    assert.is(json.error.type, "invalid_request_error");
    assert.match(json.error.message, message);
  }
  for (const [path, body] of [["/score", { text_1: query, text_2: documents }], ["/rerank", { query, documents }]] as const) {
    const { status, json } = await postJson(`${servers.generativeBase}${path}`, body);
    assert.is(status, 400);
    assert.is(json.error.param, "task");
  }
  assert.is(servers.pooling.stats().kvCacheUsagePerc, 0);
});

test("every embedded text is a request finished with reason stop in /metrics, as each /v1/embeddings input is", async () => {
  const succeeded = async () => metricValue(await (await fetch(`${servers.base}/metrics`)).text(), "vllm:request_success_total", { finished_reason: "stop" }) ?? 0;
  const before = await succeeded();
  await postJson(`${servers.base}/rerank`, { query, documents });
  await postJson(`${servers.base}/score`, { text_1: query, text_2: documents.slice(0, 2) });
  await embeddings(documents.slice(0, 2));
  assert.is(await succeeded(), before + (1 + documents.length) + 3 + 2);
});

test.run();
