// The server over the real engine and the compiled stories260K model (not the test double): the
// README's curl example, the official openai client (completions, chat and responses, stream and
// not, n, stop, logprobs, seed), hostile input against real limits, and a loopback load test with
// clients hanging up mid-stream, after which the engine is idle and every KV block is free.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Ajv } from "ajv";
import { AsyncLLM } from "../../index.ts";
import { beamSearch } from "../../runtime/engine/beam-search.ts";
import { createServer } from "../../server/app.ts";
import { listenWithClient, metricValue, postJson, waitFor } from "../support/server-harness.ts";

const M = "stories260K-hf";
const test = suite("server over the real engine (stories260K)");
let engine: AsyncLLM;
let app: ReturnType<typeof createServer>;
let base: string;
let client: OpenAI;

/** vLLM-only request fields, which the openai client's types do not know. */
const vllm = (fields: Record<string, unknown>) => fields as object;

test.before(async () => {
  engine = await AsyncLLM.create({ model: "../shared/models/stories260K-hf", maxNumSeqs: 64, maxNumBatchedTokens: 1024, kvCacheMemoryBytes: 64 * 2 ** 20, logger: () => {} });
  app = createServer({ engine, servedModelName: [M] });
  ({ base, client } = await listenWithClient(app));
});
test.after(async () => {
  await app?.close();
  await engine?.shutdown();
});

test("the README's curl example answers with a greedy story", async () => {
  const readme = fs.readFileSync("README.md", "utf8");
  const curl = /```sh\n(curl[\s\S]*?)\n```/.exec(readme)![1].replace("localhost:8000", base.replace("http://", ""));
  // Run asynchronously: the server answering curl lives in this process.
  const answer = JSON.parse((await promisify(execFile)("sh", ["-c", curl], { encoding: "utf8" })).stdout);
  assert.is(answer.choices[0].text, ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw");
  assert.equal(answer.usage, { prompt_tokens: 5, completion_tokens: 32, total_tokens: 37 });
});

test("streamed completions equal the whole answer; n, stop and logprobs behave", async () => {
  const whole = await client.completions.create({ model: M, prompt: "Once upon a time", max_tokens: 24, temperature: 0 });
  let streamed = "";
  for await (const chunk of await client.completions.create({ model: M, prompt: "Once upon a time", max_tokens: 24, temperature: 0, stream: true })) streamed += chunk.choices[0]?.text ?? "";
  assert.is(streamed, whole.choices[0].text);
  const stopped = await client.completions.create({ model: M, prompt: "Once upon a time", max_tokens: 24, temperature: 0, stop: ["Lily"] });
  assert.is(stopped.choices[0].text, ", there was a little girl named ");
  assert.is(stopped.choices[0].finish_reason, "stop");
  const sampled = { model: M, prompt: "The dog", max_tokens: 8, n: 3, seed: 7, temperature: 1, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming;
  const n = await client.completions.create(sampled);
  assert.is(n.choices.length, 3);
  assert.is(n.usage!.completion_tokens, 24);
  assert.ok(new Set(n.choices.map((c) => c.text)).size > 1, "n samples differ");
  const again = await client.completions.create(sampled);
  assert.equal(again.choices.map((c) => c.text), n.choices.map((c) => c.text));
  const lp = await client.completions.create({ model: M, prompt: "Once upon a time", max_tokens: 4, temperature: 0, logprobs: 3 });
  const first = lp.choices[0].logprobs!;
  assert.is(first.tokens!.length, 4);
  assert.ok(first.token_logprobs!.every((x) => x! <= 0));
  assert.ok(first.top_logprobs!.every((t) => Object.keys(t!).length >= 3));
});

test("chat completions stream and finish", async () => {
  const whole = await client.chat.completions.create({ model: M, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 16, temperature: 0 });
  let streamed = "";
  for await (const chunk of await client.chat.completions.create({ model: M, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 16, temperature: 0, stream: true })) {
    streamed += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.is(streamed, whole.choices[0].message.content);
});

test("/v1/responses answers as chat does, and its streamed deltas add up to the whole answer", async () => {
  const chat = await client.chat.completions.create({ model: M, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 16, temperature: 0 });
  const body = { model: M, input: "Tell me a story", max_output_tokens: 16, temperature: 0 };
  const whole = await client.responses.create(body);
  assert.is(whole.output_text, chat.choices[0].message.content);
  assert.is(whole.status, chat.choices[0].finish_reason === "length" ? "incomplete" : "completed");
  assert.is(whole.usage!.input_tokens, chat.usage!.prompt_tokens);
  let streamed = "";
  for await (const event of await client.responses.create({ ...body, stream: true })) if (event.type === "response.output_text.delta") streamed += event.delta;
  assert.is(streamed, whole.output_text);
});

test("use_beam_search: width 1 is the greedy answer; n = 3 gives the offline search's beams, whole, streamed and in chat", async () => {
  const prompt = [1, 403, 407, 261, 378];
  const greedy = await client.completions.create({ model: M, prompt, max_tokens: 10, temperature: 0 });
  const one = await client.completions.create({ model: M, prompt, max_tokens: 10, ...vllm({ use_beam_search: true }) });
  assert.is(one.choices[0].text, greedy.choices[0].text);
  const succeeded = async () => metricValue(await (await fetch(`${base}/metrics`)).text(), "vllm:request_success_total", { model_name: M, finished_reason: "length" }) ?? 0;
  const before = await succeeded();
  const wide = await client.completions.create({ model: M, prompt, max_tokens: 10, n: 3, ...vllm({ use_beam_search: true, length_penalty: 0.5 }) });
  assert.is(await succeeded(), before + wide.choices.filter((c) => c.finish_reason === "length").length, "/metrics counts each beam the answer returns");
  const [offline] = beamSearch(engine.engine, [{ promptTokenIds: prompt }], { beamWidth: 3, maxTokens: 10, lengthPenalty: 0.5 });
  assert.equal(wide.choices.map((c) => c.text), offline.sequences.map((s) => s.text));
  assert.equal(wide.choices.map((c) => c.finish_reason), offline.sequences.map((s) => (s.eosTokenId === null ? "length" : "stop")));
  assert.is(new Set(wide.choices.map((c) => c.text)).size, 3);
  assert.is(wide.usage!.completion_tokens, offline.sequences.reduce((a, s) => a + s.tokenIds.length, 0));
  const streamed = ["", "", ""];
  for await (const chunk of await client.completions.create({ model: M, prompt, max_tokens: 10, n: 3, stream: true, ...vllm({ use_beam_search: true, length_penalty: 0.5 }) })) {
    for (const choice of chunk.choices) streamed[choice.index] += choice.text;
  }
  assert.equal(streamed, wide.choices.map((c) => c.text));
  const messages = [{ role: "user" as const, content: "Tell me a story" }];
  const chatGreedy = await client.chat.completions.create({ model: M, messages, max_tokens: 8, temperature: 0 });
  const chatBeam = await client.chat.completions.create({ model: M, messages, max_tokens: 8, n: 2, ...vllm({ use_beam_search: true }) });
  assert.is(chatBeam.choices.length, 2);
  assert.ok(chatBeam.choices.every((c) => typeof c.message.content === "string" && c.message.content.length > 0));
  const chatOne = await client.chat.completions.create({ model: M, messages, max_tokens: 8, ...vllm({ use_beam_search: true }) });
  assert.is(chatOne.choices[0].message.content, chatGreedy.choices[0].message.content);
  assert.is(engine.engine.kvCacheManager.usage, 0);
  // A client hanging up mid-search stops its rounds and frees their blocks.
  const hangUp = new AbortController();
  const pending = fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, signal: hangUp.signal, body: JSON.stringify({ model: M, prompt, max_tokens: 200, n: 4, use_beam_search: true, ignore_eos: true }) });
  const generated = engine.stats().generationTokens;
  assert.ok(await waitFor(() => engine.stats().generationTokens >= generated + 40), "the search never got going");
  hangUp.abort();
  await pending.catch(() => undefined);
  assert.ok(await waitFor(() => !engine.engine.hasUnfinishedRequests() && engine.engine.kvCacheManager.usage === 0), "the aborted search left requests or blocks behind");
  assert.ok(engine.stats().generationTokens < generated + 200 * 4, "the search ran on after the client left");
});

test("structured outputs: response_format json_schema and json_object, guided_choice, guided_regex and structured_outputs hold, streamed too", async () => {
  const schema = { type: "object", properties: { name: { type: "string", maxLength: 12 }, age: { type: "integer" }, happy: { type: "boolean" } }, required: ["name", "age"] };
  const validate = new Ajv({ strict: false }).compile(schema);
  for (const seed of [1, 2, 3]) {
    const chat = await client.chat.completions.create({
      model: M, messages: [{ role: "user", content: "Tell me about Lily." }], max_tokens: 120, temperature: 1, seed,
      response_format: { type: "json_schema", json_schema: { name: "person", schema } },
    });
    assert.is(chat.choices[0].finish_reason, "stop");
    assert.ok(validate(JSON.parse(chat.choices[0].message.content!)), chat.choices[0].message.content!);
  }
  const object = await client.completions.create({ model: M, prompt: "Once upon a time", max_tokens: 120, temperature: 1, seed: 5, ...vllm({ response_format: { type: "json_object" } }) });
  const parsed = JSON.parse(object.choices[0].text);
  assert.ok(typeof parsed === "object" && parsed !== null && !Array.isArray(parsed));
  const choice = ["happy", "sad", "very sleepy"];
  const chosen = await client.completions.create({ model: M, prompt: "Lily felt", max_tokens: 16, n: 4, temperature: 1, seed: 9, ...vllm({ guided_choice: choice }) });
  for (const c of chosen.choices) assert.ok(choice.includes(c.text) && c.finish_reason === "stop", c.text);
  let streamed = "";
  for await (const chunk of await client.completions.create({ model: M, prompt: "Lily felt", max_tokens: 16, temperature: 1, seed: 9, stream: true, ...vllm({ guided_choice: choice }) })) streamed += chunk.choices[0]?.text ?? "";
  assert.is(streamed, chosen.choices[0].text);
  const regex = "[A-Z][a-z]+ (is|was) [0-9]{1,2}";
  const compact = await client.completions.create({ model: M, prompt: "Lily", max_tokens: 120, temperature: 1, seed: 6, ...vllm({ structured_outputs: { json: schema, disable_any_whitespace: true } }) });
  assert.ok(validate(JSON.parse(compact.choices[0].text)));
  assert.not.match(compact.choices[0].text, /\s(?=(?:[^"]*"[^"]*")*[^"]*$)/, "whitespace outside strings");
  const matched = await client.completions.create({ model: M, prompt: "The dog", max_tokens: 24, temperature: 1, seed: 4, ...vllm({ structured_outputs: { regex } }) });
  assert.match(matched.choices[0].text, new RegExp(`^(?:${regex})$`));
  const legacy = await client.completions.create({ model: M, prompt: "The dog", max_tokens: 24, temperature: 1, seed: 4, ...vllm({ guided_regex: regex }) });
  assert.is(legacy.choices[0].text, matched.choices[0].text);
});

test("tool calling: a named function's arguments and \"required\" calls follow the tools' schemas, whole and streamed", async () => {
  const weather = { type: "object", properties: { city: { type: "string", maxLength: 16 }, unit: { enum: ["celsius", "fahrenheit"] } }, required: ["city", "unit"] };
  const time = { type: "object", properties: { zone: { type: "string", maxLength: 8 } }, required: ["zone"] };
  const tools: OpenAI.Chat.ChatCompletionTool[] = [
    { type: "function", function: { name: "get_weather", parameters: weather } },
    { type: "function", function: { name: "get_time", parameters: time } },
  ];
  const ajv = new Ajv({ strict: false });
  const schemas: Record<string, object> = { get_weather: weather, get_time: time };
  const request = { model: M, messages: [{ role: "user" as const, content: "What is the weather in Oslo?" }], tools, max_tokens: 150, temperature: 1, seed: 2 };
  const named = await client.chat.completions.create({ ...request, tool_choice: { type: "function", function: { name: "get_weather" } } });
  const [call] = named.choices[0].message.tool_calls! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
  assert.is(named.choices[0].message.content, "");
  assert.is(call.function.name, "get_weather");
  assert.match(call.id, /^chatcmpl-tool-[0-9a-f]{32}$/);
  assert.ok(ajv.validate(weather, JSON.parse(call.function.arguments)), call.function.arguments);
  let args = "";
  let streamedId = "";
  for await (const chunk of await client.chat.completions.create({ ...request, tool_choice: { type: "function", function: { name: "get_weather" } }, stream: true })) {
    const delta = chunk.choices[0]?.delta.tool_calls?.[0];
    streamedId ||= delta?.id ?? "";
    args += delta?.function?.arguments ?? "";
  }
  assert.is(args, call.function.arguments);
  assert.match(streamedId, /^chatcmpl-tool-/);

  // parallel_tool_calls false: one call, which a model that never stops listing calls also ends.
  const single = { ...request, tool_choice: "required" as const, parallel_tool_calls: false };
  const required = await client.chat.completions.create({ ...single, seed: 8 });
  const calls = required.choices[0].message.tool_calls! as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
  assert.is(required.choices[0].finish_reason, "stop");
  assert.is(calls.length, 1);
  for (const c of calls) assert.ok(ajv.validate(schemas[c.function.name], JSON.parse(c.function.arguments)), `${c.function.name}(${c.function.arguments})`);
  const streamedCalls: { name?: string; arguments?: string }[] = [];
  for await (const chunk of await client.chat.completions.create({ ...single, seed: 8, stream: true })) {
    for (const d of chunk.choices[0]?.delta.tool_calls ?? []) streamedCalls[d.index] = { ...d.function };
  }
  assert.equal(streamedCalls, calls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })));
});

test("constraints the engine cannot build are a 400 naming the field, and leave nothing running", async () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ guided_regex: "([a-z]+)\\1" }, "structured_outputs.regex"],
    [{ guided_json: { type: "strnig" } }, "structured_outputs.json"],
    [{ guided_json: "{not json" }, "structured_outputs.json"],
    [{ response_format: { type: "json_schema", json_schema: { name: "x", schema: { $ref: "#/$defs/none" } } } }, "structured_outputs.json"],
  ];
  for (const [fields, param] of bad) {
    const { status, json } = await postJson(`${base}/v1/completions`, { model: M, prompt: "x", max_tokens: 4, ...fields });
    assert.is(status, 400, JSON.stringify(fields));
    assert.is(json.error.param, param);
  }
  assert.is(engine.engine.numUnfinishedRequests, 0);
});

test("real limits give OpenAI errors: over-long prompt, out-of-vocabulary ids", async () => {
  const long = await postJson(`${base}/v1/completions`, { model: M, prompt: Array.from({ length: 600 }, () => 300), max_tokens: 4 });
  assert.is(long.status, 400);
  assert.match(long.json.error.message, /512/);
  const oov = await postJson(`${base}/v1/completions`, { model: M, prompt: [1, 99999], max_tokens: 4 });
  assert.is(oov.status, 400);
  assert.is((await fetch(`${base}/health`)).status, 200);
});

test("256 requests at 64 concurrency complete with exact usage while 32 clients hang up; then all KV blocks are free", async () => {
  let next = 0;
  const worker = async () => {
    while (next < 256) {
      const i = next++;
      const maxTokens = 4 + (i % 13);
      const answer = await client.completions.create({ model: M, prompt: `Once upon a time ${i}`, max_tokens: maxTokens, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming);
      assert.is(answer.usage!.completion_tokens, maxTokens);
    }
  };
  const hangUps = Array.from({ length: 32 }, async (_, i) => {
    const controller = new AbortController();
    const res = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: M, prompt: `Story ${i}`, max_tokens: 400, ignore_eos: true, stream: true }), signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
  });
  await Promise.all([...Array.from({ length: 64 }, worker), ...hangUps.map((p) => p.catch(() => undefined))]);
  assert.ok(await waitFor(() => engine.stats().numRequestsRunning === 0 && engine.stats().numRequestsWaiting === 0, 20_000), "engine idle");
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.is(metricValue(metrics, "vllm:num_requests_running", { model_name: M }), 0);
  assert.is(metricValue(metrics, "vllm:num_requests_waiting", { model_name: M }), 0);
  assert.is(metricValue(metrics, "vllm:kv_cache_usage_perc", { model_name: M }), 0);
});

test.run();
