// vLLM request fields: repetition_detection, logprob_token_ids, stream_interval, truncation_side
// and reasoning_effort reach the engine (or the chat template) as vLLM passes them, with 400s
// naming the field; over a real engine on a scripted model, a repeated pattern ends a completion
// with finish_reason "repetition", the requested tokens are each position's top log-probs, and a
// stream_interval stream sends fewer chunks that join to the same text.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AsyncLLM } from "../../runtime/engine/async-llm.ts";
import { createServer } from "../../server/app.ts";
import { makeTestEngine, testTokenizer } from "../support/engine-harness.ts";
import { ScriptedModelRunner } from "../support/engine-scripted-model.ts";
import { eosTokenId } from "../support/engine-tokenizer.ts";
import { withChatTemplate } from "../../runtime/tokenizer/with-chat-template.ts";
import { ByteTokenizer } from "../support/server-byte-tokenizer.ts";
import { listenWithClient, postJson, startTestServer, type TestServer } from "../support/server-harness.ts";

const test = suite("vLLM request fields");
let server: TestServer;
const chat = { model: "test-model", messages: [{ role: "user", content: "hi" }], max_tokens: 4 };
const completion = { model: "test-model", prompt: "hi", max_tokens: 4 };

test.before(async () => {
  server = await startTestServer();
});
test.after(async () => {
  await server.close();
});

const lastParams = () => server.fake!.requests.at(-1)!.params;

async function expect400(route: string, body: object, param: string): Promise<void> {
  const res = await postJson(`${server.baseURL}/${route}`, body);
  assert.is(res.status, 400, JSON.stringify(res.json));
  assert.ok(JSON.stringify(res.json.error).includes(param), JSON.stringify(res.json));
}

test("repetition_detection reaches the engine from chat and completions, its fields 0 where left out", async () => {
  if (!server.fake) return;
  assert.is((await postJson(`${server.baseURL}/chat/completions`, { ...chat, repetition_detection: { max_pattern_size: 8, min_pattern_size: 2, min_count: 3 } })).status, 200);
  assert.equal(lastParams().repetitionDetection, { maxPatternSize: 8, minPatternSize: 2, minCount: 3 });
  assert.is((await postJson(`${server.baseURL}/completions`, { ...completion, repetition_detection: { max_pattern_size: 4, min_count: 2 } })).status, 200);
  assert.equal(lastParams().repetitionDetection, { maxPatternSize: 4, minPatternSize: 0, minCount: 2 });
  assert.is((await postJson(`${server.baseURL}/completions`, completion)).status, 200);
  assert.is(lastParams().repetitionDetection, null);
  await expect400("completions", { ...completion, repetition_detection: { max_pattern_size: 2, min_pattern_size: 3, min_count: 2 } }, "repetition_detection");
  await expect400("chat/completions", { ...chat, repetition_detection: { max_pattern_size: 2, min_count: 1 } }, "repetition_detection");
  await expect400("completions", { ...completion, repetition_detection: { max_pattern_size: -1 } }, "repetition_detection");
  await expect400("completions", { ...completion, use_beam_search: true, n: 2, repetition_detection: { max_pattern_size: 2, min_count: 2 } }, "repetition_detection");
});

test("logprob_token_ids needs logprobs, replaces the top-N as vLLM does, and is checked", async () => {
  if (!server.fake) return;
  assert.is((await postJson(`${server.baseURL}/completions`, { ...completion, logprobs: 1, logprob_token_ids: [5, 9] })).status, 200);
  assert.equal(lastParams().logprobTokenIds, [5, 9]);
  assert.is(lastParams().logprobs, null);
  assert.is((await postJson(`${server.baseURL}/chat/completions`, { ...chat, logprobs: true, logprob_token_ids: [7] })).status, 200);
  assert.equal(lastParams().logprobTokenIds, [7]);
  assert.is((await postJson(`${server.baseURL}/completions`, { ...completion, logprob_token_ids: [] })).status, 200);
  assert.is(lastParams().logprobTokenIds, null);
  await expect400("completions", { ...completion, logprob_token_ids: [5] }, "logprob_token_ids");
  await expect400("chat/completions", { ...chat, logprob_token_ids: [5] }, "logprob_token_ids");
  await expect400("completions", { ...completion, logprobs: 0, logprob_token_ids: Array.from({ length: 129 }, (_, i) => i) }, "logprob_token_ids");
  await expect400("completions", { ...completion, logprobs: 0, logprob_token_ids: [server.engine.tokenizer.vocabSize] }, "logprob_token_ids");
  await expect400("completions", { ...completion, use_beam_search: true, n: 2, logprob_token_ids: [5] }, "logprob_token_ids");
});

test("stream_interval reaches the engine; below 1 is a 400 naming it", async () => {
  if (!server.fake) return;
  assert.is((await postJson(`${server.baseURL}/completions`, { ...completion, stream_interval: 3 })).status, 200);
  assert.is(lastParams().streamInterval, 3);
  await expect400("chat/completions", { ...chat, stream_interval: 0 }, "stream_interval");
});

test("truncation_side picks which end truncate_prompt_tokens keeps", async () => {
  if (!server.fake) return;
  const prompt = [11, 12, 13, 14, 15];
  const ids = async (fields: object) => {
    assert.is((await postJson(`${server.baseURL}/completions`, { ...completion, prompt, truncate_prompt_tokens: 2, ...fields })).status, 200);
    return server.fake!.requests.at(-1)!.promptTokenIds;
  };
  assert.equal(await ids({}), [14, 15]);
  assert.equal(await ids({ truncation_side: "left" }), [14, 15]);
  assert.equal(await ids({ truncation_side: "right" }), [11, 12]);
  const chatIds = async (truncation_side: string) => {
    assert.is((await postJson(`${server.baseURL}/chat/completions`, { ...chat, truncate_prompt_tokens: 3, truncation_side })).status, 200);
    return server.engine.tokenizer.decode(server.fake!.requests.at(-1)!.promptTokenIds, { skipSpecialTokens: false });
  };
  const full = server.engine.tokenizer.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true });
  assert.ok(full.startsWith(await chatIds("right")));
  assert.ok(full.endsWith(await chatIds("left")));
  await expect400("completions", { ...completion, truncation_side: "middle" }, "truncation_side");
});

test("reasoning_effort reaches the chat template with enable_thinking, under the request's own kwargs", async () => {
  if (!server.fake) return;
  const template = "{{ reasoning_effort }}/{{ enable_thinking }}/{{ messages[0].content }}";
  const rendered = async (fields: object) => {
    assert.is((await postJson(`${server.baseURL}/chat/completions`, { ...chat, chat_template: template, add_special_tokens: false, ...fields })).status, 200);
    return server.engine.tokenizer.decode(server.fake!.requests.at(-1)!.promptTokenIds, { skipSpecialTokens: false });
  };
  assert.is(await rendered({ reasoning_effort: "low" }), "low/true/hi");
  assert.is(await rendered({ reasoning_effort: "none" }), "none/false/hi");
  assert.is(await rendered({ reasoning_effort: "high", chat_template_kwargs: { enable_thinking: false } }), "high/false/hi");
  assert.is(await rendered({}), "//hi");
  await expect400("chat/completions", { ...chat, reasoning_effort: "extreme" }, "reasoning_effort");
});

test("Responses reasoning.effort reaches the chat template as chat's reasoning_effort does; an unknown effort is a 400 naming it", async () => {
  const templated = await startTestServer({ fake: { tokenizer: withChatTemplate(new ByteTokenizer(), "{{ reasoning_effort }}/{{ enable_thinking }}/{{ messages[0].content }}") } });
  try {
    if (!templated.fake) return;
    const request = { model: "test-model", input: "hi", max_output_tokens: 4 };
    const rendered = async (fields: object) => {
      assert.is((await postJson(`${templated.baseURL}/responses`, { ...request, ...fields })).status, 200);
      return templated.engine.tokenizer.decode(templated.fake!.requests.at(-1)!.promptTokenIds, { skipSpecialTokens: true });
    };
    assert.is(await rendered({ reasoning: { effort: "low" } }), "low/true/hi");
    assert.is(await rendered({ reasoning: { effort: "none" } }), "none/false/hi");
    assert.is(await rendered({}), "//hi");
    const bad = await postJson(`${templated.baseURL}/responses`, { ...request, reasoning: { effort: "extreme" } });
    assert.is(bad.status, 400);
    assert.is(bad.json.error.param, "reasoning.effort");
  } finally {
    await templated.close();
  }
});

test("over a real engine: repetition ends a completion, requested ids are the top log-probs, stream_interval sends fewer chunks", async () => {
  const prompt = testTokenizer.encode("Q:");
  const [a, b, c] = testTokenizer.encode("abc", { addSpecialTokens: false });
  const script = [...prompt, ...Array.from({ length: 6 }, () => [a, b, c]).flat()];
  const engine = new AsyncLLM(makeTestEngine({}, new ScriptedModelRunner(script, testTokenizer.vocabSize, eosTokenId)), "scripted");
  const app = createServer({ engine, servedModelName: ["scripted"] });
  const { base } = await listenWithClient(app);
  try {
    const body = { model: "scripted", prompt, max_tokens: 32, temperature: 0 };
    const repeated = await postJson(`${base}/v1/completions`, { ...body, repetition_detection: { max_pattern_size: 3, min_count: 3 } });
    assert.is(repeated.status, 200, JSON.stringify(repeated.json));
    assert.is(repeated.json.choices[0].text, "abcabcabc");
    assert.is(repeated.json.choices[0].finish_reason, "repetition");
    assert.is(repeated.json.choices[0].stop_reason, "repetition_detected");

    const scored = await postJson(`${base}/v1/completions`, { ...body, max_tokens: 2, logprobs: 0, logprob_token_ids: [c, b] });
    const tops = scored.json.choices[0].logprobs.top_logprobs as Record<string, number>[];
    assert.equal(Object.keys(tops[0]), ["a", "c", "b"]);
    assert.ok(tops[0].a > tops[0].b && tops[0].c === tops[0].b, JSON.stringify(tops[0]));

    const chunks = async (streamInterval: number | null) => {
      const response = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, max_tokens: 10, stream: true, stream_interval: streamInterval }) });
      const events = (await response.text()).split("\n\n").filter((e) => e.startsWith("data: {"));
      return events.map((e) => JSON.parse(e.slice(6)).choices[0].text as string);
    };
    const every = await chunks(null);
    const fours = await chunks(4);
    assert.is(fours.join(""), every.join(""));
    assert.ok(fours.length < every.length, `${fours.length} chunks against ${every.length}`);
  } finally {
    await app.close();
    await engine.shutdown();
  }
});

test.run();
