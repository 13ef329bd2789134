// /v1/chat/completions driven by the official openai client: the chat template applied once (one
// BOS), whole and streamed answers agree, logprobs, n, stop and max_completion_tokens.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startTestServer, type TestServer } from "../support/server-harness.ts";

const M = "test-model";
const test = suite("server: /v1/chat/completions with the openai client");
let server: TestServer;
let client: OpenAI;

const vllm = (fields: Record<string, unknown>) => fields as object;
const user = (content: string): OpenAI.Chat.ChatCompletionMessageParam => ({ role: "user", content });

test.before(async () => {
  server = await startTestServer();
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});
test.after(async () => server.close());

test("a chat answer is one assistant message with usage", async () => {
  const answer = await client.chat.completions.create({ model: "test-model", messages: [user("hi")], max_completion_tokens: 6 });
  assert.is(answer.object, "chat.completion");
  assert.match(answer.id, /^chatcmpl-[0-9a-f]{32}$/);
  assert.is(answer.choices[0].message.role, "assistant");
  assert.is(answer.choices[0].finish_reason, "length");
  assert.is(answer.usage!.completion_tokens, 6);
  assert.is(answer.usage!.total_tokens, answer.usage!.prompt_tokens + 6);
});

test("the chat prompt holds exactly one BOS (the template's), not two", async () => {
  const answer = await client.chat.completions.create({ model: M, messages: [user("bos?")], max_tokens: 1, ...vllm({ return_token_ids: true }) });
  const promptIds = (answer as unknown as { prompt_token_ids: number[] }).prompt_token_ids;
  const bos = server.engine.tokenizer.bosTokenId;
  assert.is(promptIds.length, answer.usage!.prompt_tokens);
  if (bos !== null) assert.is(promptIds.filter((id) => id === bos).length, 1);
  const tokenized = await fetch(`${server.url}/tokenize`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages: [{ role: "user", content: "bos?" }] }),
  }).then((r) => r.json() as Promise<{ tokens: number[]; count: number }>);
  assert.equal(tokenized.tokens, promptIds);
});

test("a stream's deltas add up to the whole answer; the role comes first, usage last", async () => {
  const body = { model: M, messages: [user("stream this")], max_tokens: 40, temperature: 0 };
  const whole = await client.chat.completions.create(body);
  const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.is(chunks[0].choices[0].delta.role, "assistant");
  assert.is(chunks[0].object, "chat.completion.chunk");
  const text = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? "")).join("");
  assert.is(text, whole.choices[0].message.content);
  const last = chunks[chunks.length - 1];
  assert.equal(last.choices, []);
  assert.equal(last.usage, whole.usage);
  const finishing = chunks.filter((c) => c.choices[0]?.finish_reason);
  assert.is(finishing.length, 1);
  assert.is(finishing[0].choices[0].finish_reason, whole.choices[0].finish_reason);
});

test("n choices stream under their own indexes", async () => {
  const stream = await client.chat.completions.create({ model: M, messages: [user("abc")], n: 3, max_tokens: 5, stream: true });
  const texts = ["", "", ""];
  for await (const chunk of stream) for (const choice of chunk.choices) texts[choice.index] += choice.delta.content ?? "";
  const whole = await client.chat.completions.create({ model: M, messages: [user("abc")], n: 3, max_tokens: 5 });
  assert.equal(texts, whole.choices.map((c) => c.message.content));
  assert.is(whole.usage!.completion_tokens, 15);
});

test("logprobs with top_logprobs", async () => {
  const answer = await client.chat.completions.create({ model: M, messages: [user("lp")], max_tokens: 3, logprobs: true, top_logprobs: 2 });
  const content = answer.choices[0].logprobs!.content!;
  assert.is(content.length, 3);
  for (const entry of content) {
    assert.type(entry.token, "string");
    assert.ok(entry.logprob <= 0);
    assert.equal(entry.bytes, [...Buffer.from(entry.token, "utf8")]);
    assert.is(entry.top_logprobs.length, 2);
  }
});

test("logprobs false gives null logprobs", async () => {
  const answer = await client.chat.completions.create({ model: M, messages: [user("x")], max_tokens: 2 });
  assert.is(answer.choices[0].logprobs, null);
});

test("stop strings and the same seed", async () => {
  const body = { model: M, messages: [user("one two three")], max_tokens: 60, stop: ["two"], seed: 5 };
  const [a, b] = await Promise.all([client.chat.completions.create(body), client.chat.completions.create(body)]);
  assert.is(a.choices[0].message.content, b.choices[0].message.content);
  assert.not.match(a.choices[0].message.content!, "two");
});

test("continue_final_message continues the assistant's text without a new turn", async () => {
  if (!server.fake) return;
  await client.chat.completions.create({
    model: M,
    messages: [user("hi"), { role: "assistant", content: "Once upon" }], max_tokens: 1,
    ...vllm({ continue_final_message: true, add_generation_prompt: false }),
  });
  const prompt = server.engine.tokenizer.decode(server.fake.requests.at(-1)!.promptTokenIds);
  assert.ok(prompt.endsWith("assistant\nOnce upon"), prompt);
});

test("the template sees the tools, earlier tool calls (arguments parsed) and tool results", async () => {
  if (!server.fake) return;
  const template = "{% for t in tools %}[{{ t.function.name }}]{% endfor %}{% for m in messages %}{{ m.role }}:{{ m.content }}" +
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<{{ c.function.name }} {{ c.function.arguments.city }}>{% endfor %}{% endif %}" +
    "{% if m.tool_call_id %}{{ m.tool_call_id }}{% endif %}|{% endfor %}";
  await client.chat.completions.create({
    model: M, max_tokens: 1, tool_choice: "none",
    tools: [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }],
    messages: [
      user("hi"),
      { role: "assistant", content: null, tool_calls: [{ id: "call1", type: "function", function: { name: "weather", arguments: "{\"city\": \"Oslo\"}" } }] },
      { role: "tool", tool_call_id: "call1", content: "sunny" },
    ],
    ...vllm({ chat_template: template }),
  });
  const prompt = server.engine.tokenizer.decode(server.fake.requests.at(-1)!.promptTokenIds, { skipSpecialTokens: true });
  assert.is(prompt, "[weather]user:hi|assistant:<weather Oslo>|tool:sunnycall1|");
});

test("chat_template and chat_template_kwargs are used", async () => {
  if (!server.fake) return;
  await client.chat.completions.create({
    model: M,
    messages: [user("hey")], max_tokens: 1,
    ...vllm({ chat_template: "{{ greeting }}:{% for m in messages %}{{ m.content }}{% endfor %}", chat_template_kwargs: { greeting: "yo" } }),
  });
  const prompt = server.engine.tokenizer.decode(server.fake.requests.at(-1)!.promptTokenIds, { skipSpecialTokens: true });
  assert.is(prompt, "yo:hey");
});

test("text content parts are joined", async () => {
  const answer = await client.chat.completions.create({
    model: M,
    messages: [{ role: "user", content: [{ type: "text", text: "part one" }, { type: "text", text: "part two" }] }], max_tokens: 1,
  });
  assert.is(answer.usage!.completion_tokens, 1);
});

test("tool_choice auto (also implied by tools alone), image parts and unknown response_format types are refused with a 400 naming the field", async () => {
  const refused = async (body: object, param: string) => {
    try {
      await client.chat.completions.create({ model: M, messages: [user("x")], ...body } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming);
      assert.unreachable("expected a 400");
    } catch (err) {
      assert.instance(err, OpenAI.BadRequestError);
      assert.is((err as InstanceType<typeof OpenAI.BadRequestError>).param, param);
    }
  };
  await refused({ response_format: { type: "xml" } }, "response_format.type");
  const tool = { type: "function", function: { name: "f", parameters: {} } };
  await refused({ tools: [tool] }, "tool_choice");
  await refused({ tools: [tool], tool_choice: "auto" }, "tool_choice");
  await refused({ tools: [tool], tool_choice: { type: "function", function: { name: "g" } } }, "tool_choice");
  await refused({ tool_choice: "required" }, "tool_choice");
  await refused({ tools: [tool], tool_choice: "required", response_format: { type: "json_object" } }, "tool_choice");
  await refused({ tools: [{ type: "function", function: { description: "no name" } }], tool_choice: "none" }, "tools[0].function.name");
  await refused({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "http://x" } }] }] }, "messages[0].content[0]");
  const allowed = await client.chat.completions.create({ model: M, messages: [user("x")], max_tokens: 1, tools: [tool as OpenAI.Chat.ChatCompletionTool], tool_choice: "none" });
  assert.is(allowed.choices.length, 1);
});

test.run();
