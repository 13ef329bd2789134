// /v1/completions driven by the official openai client: whole and streamed answers agree, usage
// counts are right, and vLLM's conventions (no extra BOS for token ids, echo, logprobs) hold.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startTestServer, type TestServer } from "../support/server-harness.ts";

const M = "test-model";
const test = suite("server: /v1/completions with the openai client");
let server: TestServer;
let client: OpenAI;

/** vLLM-only request fields, which the openai client's types do not know. */
const vllm = (fields: Record<string, unknown>) => fields as object;
const reversed = (text: string) => [...text].reverse().join("");

test.before(async () => {
  server = await startTestServer();
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});
test.after(async () => server.close());

test("a text prompt gets max_tokens tokens and usage counts the prompt with its BOS", async () => {
  const tokens = await server.engine.tokenizer.encode("hello world", { addSpecialTokens: true });
  const answer = await client.completions.create({ model: "test-model", prompt: "hello world", max_tokens: 5 });
  assert.is(answer.object, "text_completion");
  assert.is(answer.model, "test-model");
  assert.match(answer.id, /^cmpl-[0-9a-f]{32}$/);
  assert.is(answer.choices.length, 1);
  assert.is(answer.choices[0].finish_reason, "length");
  assert.equal(answer.usage, { prompt_tokens: tokens.length, completion_tokens: 5, total_tokens: tokens.length + 5 });
  if (server.fake) assert.is(answer.choices[0].text, "dlrow");
});

test("a stream carries the same text as the whole answer, and usage last with no choices", async () => {
  const body = { model: "test-model", prompt: "stream me please", max_tokens: 12, seed: 7, temperature: 0 };
  const whole = await client.completions.create(body);
  const stream = await client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  let text = "";
  const chunks: OpenAI.Completions.Completion[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  for (const chunk of chunks.slice(0, -1)) text += chunk.choices[0].text;
  const last = chunks[chunks.length - 1];
  assert.equal(last.choices, []);
  assert.equal(last.usage, whole.usage);
  assert.is(text, whole.choices[0].text);
  assert.is(chunks[chunks.length - 2].choices[0].finish_reason, whole.choices[0].finish_reason);
  assert.ok(chunks.slice(0, -1).every((c) => c.usage == null));
});

test("without include_usage a stream has no usage chunk", async () => {
  const stream = await client.completions.create({ model: M, prompt: "abc", max_tokens: 3, stream: true });
  for await (const chunk of stream) {
    assert.is(chunk.usage ?? null, null);
    assert.is(chunk.choices.length, 1);
  }
});

test("n choices per prompt over a list of prompts: indexes and summed usage", async () => {
  const answer = await client.completions.create({ model: M, prompt: ["abcd", "wxyz"], n: 3, max_tokens: 2 });
  assert.equal(answer.choices.map((c) => c.index).sort(), [0, 1, 2, 3, 4, 5]);
  assert.is(answer.usage!.completion_tokens, 12);
  assert.is(answer.usage!.prompt_tokens, 10);
  if (server.fake) {
    const byIndex = new Map(answer.choices.map((c) => [c.index, c.text]));
    assert.equal([0, 1, 2].map((i) => byIndex.get(i)), ["dc", "cb", "ba"]);
    assert.is(byIndex.get(3), "zy");
  }
});

test("a token-id prompt is used as given: no BOS is added", async () => {
  const ids = [...Buffer.from("token ids")];
  const answer = await client.completions.create({ model: M, prompt: ids, max_tokens: 4, ...vllm({ return_token_ids: true }) });
  assert.is(answer.usage!.prompt_tokens, ids.length);
  const choice = answer.choices[0] as unknown as { prompt_token_ids: number[]; token_ids: number[] };
  assert.equal(choice.prompt_token_ids, ids);
  assert.is(choice.token_ids.length, 4);
  if (server.fake) assert.equal(server.fake.requests.at(-1)!.promptTokenIds, ids);
});

test("a list of token-id lists is one engine request per list", async () => {
  const answer = await client.completions.create({ model: M, prompt: [[104, 105], [111, 107, 33]], max_tokens: 2 });
  assert.is(answer.choices.length, 2);
  assert.is(answer.usage!.prompt_tokens, 5);
});

test("a stop string ends the text and is never sent, whole or streamed", async () => {
  const whole = await client.completions.create({ model: M, prompt: "one two three", max_tokens: 30, stop: ["ow"] });
  const choice = whole.choices[0] as OpenAI.Completions.CompletionChoice & { stop_reason: unknown };
  assert.not.match(choice.text, "ow");
  if (server.fake) {
    assert.is(choice.text, "eerht ");
    assert.is(choice.finish_reason, "stop");
    assert.is(choice.stop_reason, "ow");
  }
  const stream = await client.completions.create({ model: M, prompt: "one two three", max_tokens: 30, stop: "ow", stream: true });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
  assert.is(text, choice.text);
});

test("include_stop_str_in_output keeps the matched stop string", async () => {
  const answer = await client.completions.create({ model: M, prompt: "abc", max_tokens: 10, stop: ["b"], ...vllm({ include_stop_str_in_output: true }) });
  if (server.fake) assert.is(answer.choices[0].text, "cb");
});

test("logprobs: one entry per token, with the requested number of alternatives", async () => {
  const answer = await client.completions.create({ model: M, prompt: "logprobs", max_tokens: 4, logprobs: 2 });
  const logprobs = answer.choices[0].logprobs!;
  assert.is(logprobs.tokens!.length, 4);
  assert.is(logprobs.token_logprobs!.length, 4);
  assert.ok(logprobs.token_logprobs!.every((lp) => typeof lp === "number" && lp <= 0));
  assert.ok(logprobs.top_logprobs!.every((top) => Object.keys(top).length === 2));
  assert.is(logprobs.text_offset![0], 0);
  assert.is(logprobs.tokens!.join(""), answer.choices[0].text);
});

test("echo with logprobs returns the prompt first, with a null first log-prob", async () => {
  const answer = await client.completions.create({ model: M, prompt: "echo", max_tokens: 2, echo: true, logprobs: 1 });
  const choice = answer.choices[0];
  assert.ok(choice.text.startsWith("echo"));
  const promptLen = answer.usage!.prompt_tokens;
  const logprobs = choice.logprobs!;
  assert.is(logprobs.tokens!.length, promptLen + 2);
  assert.is(logprobs.token_logprobs![0], null);
  assert.is(logprobs.top_logprobs![0], null);
  assert.ok(logprobs.token_logprobs!.slice(1).every((lp) => typeof lp === "number"));
});

test("a streamed echo starts with the prompt", async () => {
  const stream = await client.completions.create({ model: M, prompt: "pre", max_tokens: 3, echo: true, stream: true });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
  assert.ok(text.startsWith("pre"));
  if (server.fake) assert.is(text, "pre" + reversed("pre"));
});

test("the same seed gives the same completion", async () => {
  const body = { model: M, prompt: "seeded", max_tokens: 8, temperature: 1, seed: 1234 };
  const [a, b] = await Promise.all([client.completions.create(body), client.completions.create(body)]);
  assert.is(a.choices[0].text, b.choices[0].text);
});

test("every sampling field reaches the engine under its SamplingParams name", async () => {
  if (!server.fake) return;
  await client.completions.create({
    model: M,
    prompt: "params", max_tokens: 9, temperature: 0.5, top_p: 0.9, presence_penalty: 0.1, frequency_penalty: 0.2, seed: 3,
    logit_bias: { "65": 5 }, user: "ignored", stop: ["zz"],
    ...vllm({
      top_k: 7, min_p: 0.05, repetition_penalty: 1.1, stop_token_ids: [250], ignore_eos: true, min_tokens: 2,
      include_stop_str_in_output: true, skip_special_tokens: false, priority: 4, request_id: "my-request",
    }),
  });
  const request = server.fake.requests.at(-1)!;
  assert.is(request.requestId, "my-request");
  assert.is(request.priority, 4);
  const p = request.params;
  assert.equal(
    [p.maxTokens, p.temperature, p.topP, p.topK, p.minP, p.presencePenalty, p.frequencyPenalty, p.repetitionPenalty, p.seed],
    [9, 0.5, 0.9, 7, 0.05, 0.1, 0.2, 1.1, 3],
  );
  assert.equal(p.stop, ["zz"]);
  assert.equal(p.stopTokenIds, [250]);
  assert.equal(p.logitBias, { 65: 5 });
  assert.equal([p.ignoreEos, p.minTokens, p.includeStopStrInOutput, p.skipSpecialTokens], [true, 2, true, false]);
});

test("return_tokens_as_token_ids spells logprob tokens as token_id:N", async () => {
  const answer = await client.completions.create({ model: M, prompt: [65, 66], max_tokens: 2, logprobs: 0, ...vllm({ return_tokens_as_token_ids: true }) });
  assert.ok(answer.choices[0].logprobs!.tokens!.every((t) => /^token_id:\d+$/.test(t)));
});

test("add_special_tokens false leaves the BOS out of a text prompt", async () => {
  const withBos = await client.completions.create({ model: M, prompt: "bos", max_tokens: 1 });
  const without = await client.completions.create({ model: M, prompt: "bos", max_tokens: 1, ...vllm({ add_special_tokens: false }) });
  assert.is(withBos.usage!.prompt_tokens - without.usage!.prompt_tokens, server.engine.tokenizer.addBosToken ? 1 : 0);
});

test.run();
