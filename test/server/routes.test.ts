// The small routes: /v1/models, /tokenize, /detokenize, /health, /version, /metrics, and --api-key.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { metricValue, postJson, startTestServer, type TestServer } from "../support/server-harness.ts";

const M = "test-model";
const test = suite("server: models, tokenize, health, metrics, api key");
let server: TestServer;
let keyed: TestServer;

test.before(async () => {
  server = await startTestServer({ server: { servedModelName: ["test-model", "alias"] } });
  keyed = await startTestServer({ server: { apiKey: "sk-right" } });
});
test.after(async () => {
  await server.close();
  await keyed.close();
});

test("/v1/models lists every served name with max_model_len", async () => {
  const client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
  const models = [];
  for await (const model of client.models.list()) models.push(model);
  assert.equal(models.map((m) => m.id), ["test-model", "alias"]);
  assert.is((models[0] as unknown as { max_model_len: number }).max_model_len, server.engine.maxModelLen);
  assert.is(models[0].object, "model");
});

test("a request may name any served alias", async () => {
  const { status, json } = await postJson(`${server.url}/v1/completions`, { model: "alias", prompt: "a", max_tokens: 1 });
  assert.is(status, 200);
  assert.is(json.model, "alias");
});

test("/tokenize and /detokenize round-trip, with vLLM's add_special_tokens default", async () => {
  const tokenized = await postJson(`${server.url}/tokenize`, { prompt: "héllo", return_token_strs: true });
  assert.is(tokenized.status, 200);
  const expected = server.engine.tokenizer.encode("héllo", { addSpecialTokens: true });
  assert.equal(tokenized.json.tokens, expected);
  assert.is(tokenized.json.count, expected.length);
  assert.is(tokenized.json.max_model_len, server.engine.maxModelLen);
  assert.is(tokenized.json.token_strs.length, expected.length);
  const bare = await postJson(`${server.url}/tokenize`, { prompt: "héllo", add_special_tokens: false });
  const detokenized = await postJson(`${server.url}/detokenize`, { tokens: bare.json.tokens });
  assert.equal(detokenized.json, { prompt: "héllo" });
});

test("/tokenize needs a prompt or messages", async () => {
  const { status, json } = await postJson(`${server.url}/tokenize`, {});
  assert.is(status, 400);
  assert.is(json.error.param, "prompt");
});

test("/health answers 200 and /version names the package version", async () => {
  assert.is((await fetch(`${server.url}/health`)).status, 200);
  const version = await (await fetch(`${server.url}/version`)).json();
  assert.match(version.version, /^\d+\.\d+\.\d+/);
});

test("/metrics exports vLLM's names labelled with the model", async () => {
  await postJson(`${server.url}/v1/completions`, { prompt: "count me", max_tokens: 3 });
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const labels = { model_name: "test-model" };
  for (const gauge of ["vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:num_requests_swapped", "vllm:cpu_cache_usage_perc"]) {
    assert.is(metricValue(text, gauge, labels), 0, gauge);
  }
  for (const name of [
    "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total", "vllm:num_preemptions_total", "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total", "vllm:time_to_first_token_seconds_count", "vllm:inter_token_latency_seconds_count",
    "vllm:e2e_request_latency_seconds_count", "vllm:request_queue_time_seconds_count", "vllm:request_prompt_tokens_count",
    "vllm:request_generation_tokens_count", "vllm:spec_decode_num_drafts_total", "vllm:spec_decode_num_draft_tokens_total",
    "vllm:spec_decode_num_accepted_tokens_total",
  ]) {
    assert.ok(metricValue(text, name, labels) !== null, `${name} is exported`);
  }
  assert.ok(metricValue(text, "vllm:generation_tokens_total", labels)! >= 3);
  assert.ok(metricValue(text, "vllm:request_success_total", { ...labels, finished_reason: "length" })! >= 1);
  assert.ok(metricValue(text, "vllm:e2e_request_latency_seconds_count", labels)! >= 1);
});

test("with an API key, every route but /health wants the right bearer token", async () => {
  const wrong = new OpenAI({ baseURL: keyed.baseURL, apiKey: "sk-wrong", maxRetries: 0 });
  try {
    await wrong.completions.create({ model: M, prompt: "x", max_tokens: 1 });
    assert.unreachable("expected a 401");
  } catch (err) {
    assert.instance(err, OpenAI.AuthenticationError);
  }
  for (const path of ["/v1/models", "/metrics", "/version", "/v1/nowhere"]) {
    const response = await fetch(`${keyed.url}${path}`);
    assert.is(response.status, 401, path);
    assert.is((await response.json()).error.code, "invalid_api_key");
  }
  assert.is((await fetch(`${keyed.url}/health`)).status, 200);
  const right = new OpenAI({ baseURL: keyed.baseURL, apiKey: "sk-right", maxRetries: 0 });
  const answer = await right.completions.create({ model: M, prompt: "x", max_tokens: 1 });
  assert.is(answer.choices.length, 1);
});

test.run();
