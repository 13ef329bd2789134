// /v1/responses through the official openai client: text answers whole and streamed (the deltas add
// up to the whole), max_output_tokens as "incomplete", instructions and message lists, a function
// tool round trip (previous_response_id and the whole input list reach the same prompt), text
// formats as structured outputs, stored responses, reasoning items, and malformed requests as
// 400s. The fake engine answers with its prompt's bytes reversed, and the template
// (responses-support.ts) writes the messages' contents alone, so a request scripts the model's
// answer exactly. Background responses and output log-probs have their own suites.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { metricValue, postJson, startTestServer, waitFor, type TestServer } from "../support/server-harness.ts";
import { clientOf, ContentsTokenizer, M, reversed, streamEvents } from "./responses-support.ts";

const test = suite("server: /v1/responses with the openai client");
const tools: OpenAI.Responses.FunctionTool[] = [{ type: "function", name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false }];
const callAnswer = `Let me look.<tool_call>{"name": "weather", "arguments": {"city": "Oslo"}}</tool_call>`;

let stored: TestServer;
let plain: TestServer;
let thinking: TestServer;
let harmony: TestServer;
let client: OpenAI;

/** The prompt text of the fake engine's latest request, special tokens left out. */
const lastPrompt = (server: TestServer) => server.engine.tokenizer.decode(server.fake!.requests.at(-1)!.promptTokenIds, { skipSpecialTokens: true });

/** The message text of a Response from an event, which the client does not give `output_text`. */
const messageText = (response: OpenAI.Responses.Response) =>
  response.output.flatMap((item) => (item.type === "message" ? item.content.map((part) => (part.type === "output_text" ? part.text : "")) : [])).join("");

const deltas = (events: OpenAI.Responses.ResponseStreamEvent[], type: string) =>
  events.filter((e) => e.type === type).map((e) => (e as { delta: string }).delta).join("");

test.before(async () => {
  const fake = { tokenizer: new ContentsTokenizer() };
  stored = await startTestServer({ fake, server: { toolCallParser: "hermes", responsesStore: true } });
  plain = await startTestServer({ fake, server: { responsesStore: false } });
  thinking = await startTestServer({ fake, server: { reasoningParser: "deepseek_r1", responsesStore: false } });
  harmony = await startTestServer({ fake, server: { reasoningParser: "openai_gptoss", responsesStore: false } });
  client = clientOf(stored);
});
test.after(async () => {
  await Promise.all([stored.close(), plain.close(), thinking.close(), harmony.close()]);
});

test("a string input is answered by one assistant message with usage", async () => {
  if (!stored.fake) return;
  const response = await client.responses.create({ model: M, input: reversed("Hello there") });
  assert.match(response.id, /^resp_[0-9a-f]{32}$/);
  assert.is(response.object, "response");
  assert.is(response.status, "completed");
  assert.is(response.incomplete_details, null);
  assert.is(response.output.length, 1);
  const message = response.output[0] as OpenAI.Responses.ResponseOutputMessage;
  assert.is(message.type, "message");
  assert.is(message.role, "assistant");
  assert.match(message.id, /^msg_[0-9a-f]{32}$/);
  assert.equal(message.content, [{ type: "output_text", text: "Hello there", annotations: [], logprobs: [] }]);
  assert.is(response.output_text, "Hello there");
  // BOS + 11 bytes in, 11 bytes + EOS out.
  assert.equal(response.usage, { input_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens: 12, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 24 });
  assert.is(response.model, M);
  assert.is(response.temperature, 1);
  assert.is(response.top_p, 1);
  assert.is(response.tool_choice, "auto");
  assert.equal(response.text, { format: { type: "text" } });
});

test("max_output_tokens cuts the answer: status incomplete with reason max_output_tokens", async () => {
  const response = await client.responses.create({ model: M, input: reversed("a longer answer"), max_output_tokens: 4 });
  assert.is(response.status, "incomplete");
  assert.equal(response.incomplete_details, { reason: "max_output_tokens" });
  assert.is(response.output_text, "a lo");
  assert.is(response.max_output_tokens, 4);
  assert.is(response.usage!.output_tokens, 4);
  assert.is((response.output[0] as OpenAI.Responses.ResponseOutputMessage).status, "incomplete");
});

test("instructions come first, then the message list's input_text and output_text parts, in order", async () => {
  if (!stored.fake) return;
  const response = await client.responses.create({
    model: M,
    instructions: "AB",
    input: [
      { role: "user", content: "CD" },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "EF", annotations: [] }], id: "msg_1", status: "completed" },
      { role: "developer", content: [{ type: "input_text", text: "GH" }] },
    ],
    temperature: 0,
  });
  assert.is(lastPrompt(stored), "ABCDEFGH");
  assert.is(response.output_text, "HGFEDCBA");
  assert.is(response.instructions, "AB");
  assert.is(response.temperature, 0);
});

test("a stream opens with created and in_progress, its deltas add up to the whole answer, and it ends with completed", async () => {
  const body = { model: M, input: reversed("Streamed answers equal whole ones, byte for byte."), temperature: 0 };
  const whole = await client.responses.create(body);
  const events = await streamEvents(stored, body);
  assert.equal(events.map((e) => e.sequence_number), events.map((_, i) => i));
  assert.equal(events.slice(0, 4).map((e) => e.type), ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
  assert.equal(events.slice(-4).map((e) => e.type), ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]);
  const text = deltas(events, "response.output_text.delta");
  assert.is(text, whole.output_text);
  const done = events.find((e) => e.type === "response.output_text.done") as OpenAI.Responses.ResponseTextDoneEvent;
  assert.is(done.text, text);
  const completed = (events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response;
  assert.is(messageText(completed), whole.output_text);
  assert.equal(completed.usage, whole.usage);
  const added = events[2] as OpenAI.Responses.ResponseOutputItemAddedEvent;
  assert.is(added.item.id, completed.output[0].id);
  for (const event of events.filter((e) => e.type === "response.output_text.delta")) {
    assert.is((event as OpenAI.Responses.ResponseTextDeltaEvent).item_id, added.item.id);
  }
  const final = await client.responses.stream(body).finalResponse();
  assert.is(messageText(final), whole.output_text);
});

test("a function tool round trip: the call as a function_call item, its output continued by previous_response_id or by the whole input list", async () => {
  if (!stored.fake) return;
  const first = await client.responses.create({ model: M, input: reversed(callAnswer), tools });
  assert.is(first.output.length, 2);
  assert.is(first.output_text, "Let me look.");
  const call = first.output[1] as OpenAI.Responses.ResponseFunctionToolCall;
  assert.is(call.type, "function_call");
  assert.is(call.name, "weather");
  assert.equal(JSON.parse(call.arguments), { city: "Oslo" });
  assert.match(call.call_id, /^call_[0-9a-f]{32}$/);
  assert.match(call.id!, /^fc_[0-9a-f]{32}$/);

  const output = { type: "function_call_output" as const, call_id: call.call_id, output: "sunny" };
  const continued = await client.responses.create({ model: M, previous_response_id: first.id, input: [output], tools });
  const continuedPrompt = stored.fake.requests.at(-1)!.promptTokenIds;
  assert.is(lastPrompt(stored), `${reversed(callAnswer)}Let me look.[weather]sunny`);
  assert.is(continued.previous_response_id, first.id);
  assert.is(continued.output[0].type, "message");

  const replayed = await client.responses.create({ model: M, input: [{ role: "user", content: reversed(callAnswer) }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), output], tools });
  assert.equal(stored.fake.requests.at(-1)!.promptTokenIds, continuedPrompt);
  assert.is(replayed.output_text, continued.output_text);
});

test("a streamed call: output_item.added, argument deltas and done events, then the same items as the whole answer", async () => {
  const events = await streamEvents(stored, { model: M, input: reversed(callAnswer), tools });
  const completed = (events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response;
  assert.is(deltas(events, "response.output_text.delta"), "Let me look.");
  const args = deltas(events, "response.function_call_arguments.delta");
  const argsDone = events.find((e) => e.type === "response.function_call_arguments.done") as OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent;
  assert.is(argsDone.arguments, args);
  assert.is(argsDone.output_index, 1);
  const call = completed.output[1] as OpenAI.Responses.ResponseFunctionToolCall;
  assert.is(call.arguments, args);
  assert.is(argsDone.item_id, call.id);
  const added = events.filter((e) => e.type === "response.output_item.added").map((e) => (e as OpenAI.Responses.ResponseOutputItemAddedEvent).item.type);
  assert.equal(added, ["message", "function_call"]);
});

test("a named tool_choice constrains the answer to the function's parameters and answers with its call", async () => {
  if (!stored.fake) return;
  const response = await client.responses.create({ model: M, input: reversed(`{"city": "Bergen"}`), tools, tool_choice: { type: "function", name: "weather" } });
  assert.equal(stored.fake.requests.at(-1)!.params.structuredOutputs, { json: tools[0].parameters });
  assert.is(response.output.length, 1);
  const call = response.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
  assert.is(call.name, "weather");
  assert.is(call.arguments, `{"city": "Bergen"}`);
  assert.equal(response.tool_choice, { type: "function", name: "weather" });
});

test("text.format json_schema and json_object become structured-output constraints", async () => {
  if (!stored.fake) return;
  const schema = { type: "object", properties: { answer: { type: "integer" } }, required: ["answer"], additionalProperties: false };
  const response = await client.responses.create({ model: M, input: reversed(`{"answer": 42}`), text: { format: { type: "json_schema", name: "answer", schema, strict: true } } });
  assert.equal(stored.fake.requests.at(-1)!.params.structuredOutputs, { json: schema, whitespacePattern: undefined });
  assert.equal(JSON.parse(response.output_text), { answer: 42 });
  assert.equal(response.text, { format: { type: "json_schema", name: "answer", schema, strict: true } });
  await client.responses.create({ model: M, input: reversed("{}"), text: { format: { type: "json_object" } } });
  assert.equal(stored.fake.requests.at(-1)!.params.structuredOutputs, { jsonObject: true, whitespacePattern: undefined });
});

test("a stored response is retrieved as it was sent; unknown ids are a 404 in OpenAI's shape; a finished response cannot be cancelled", async () => {
  const response = await client.responses.create({ model: M, input: reversed("keep me"), metadata: { topic: "test" } });
  const retrieved = await client.responses.retrieve(response.id);
  assert.equal(JSON.parse(JSON.stringify(retrieved)), JSON.parse(JSON.stringify(response)));
  const missing = await postJson(`${stored.url}/v1/responses`, { model: M, input: "x", previous_response_id: "resp_nope" });
  assert.is(missing.status, 404);
  assert.equal(missing.json, { error: { message: "Response with id 'resp_nope' not found.", type: "invalid_request_error", param: "previous_response_id", code: "response_not_found" } });
  try {
    await client.responses.retrieve("resp_nope");
    assert.unreachable("retrieving an unknown id succeeded");
  } catch (err) {
    assert.instance(err, OpenAI.NotFoundError);
  }
  const cancel = await fetch(`${stored.url}/v1/responses/${response.id}/cancel`, { method: "POST" });
  assert.is(cancel.status, 400);
  assert.is(((await cancel.json()) as { error: { message: string } }).error.message, "Cannot cancel a synchronous response.");
});

test("store: false on a storing server and any request on a server without a store keep nothing", async () => {
  const unstored = await client.responses.create({ model: M, input: "x", store: false });
  const missing = await fetch(`${stored.url}/v1/responses/${unstored.id}`);
  assert.is(missing.status, 404);
  const quiet = await clientOf(plain).responses.create({ model: M, input: "x" });
  assert.is((await fetch(`${plain.url}/v1/responses/${quiet.id}`)).status, 404);
});

test("with a reasoning parser the thinking is a reasoning item before the message, whole and streamed", async () => {
  const body = { model: M, input: reversed("Let me think.</think>The answer.") };
  const whole = await clientOf(thinking).responses.create(body);
  assert.equal(whole.output.map((item) => item.type), ["reasoning", "message"]);
  const reasoning = whole.output[0] as OpenAI.Responses.ResponseReasoningItem;
  assert.equal(reasoning.content, [{ type: "reasoning_text", text: "Let me think." }]);
  assert.match(reasoning.id, /^rs_[0-9a-f]{32}$/);
  assert.is(whole.output_text, "The answer.");
  const events = await streamEvents(thinking, body);
  assert.is(deltas(events, "response.reasoning_text.delta"), "Let me think.");
  assert.is(deltas(events, "response.output_text.delta"), "The answer.");
  const completed = (events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response;
  assert.equal(completed.output.map((item) => item.type), ["reasoning", "message"]);
  const final = await clientOf(thinking).responses.stream(body).finalResponse();
  assert.is(messageText(final), "The answer.");
});

test("with GPT-OSS's harmony parser the analysis channel is the reasoning item and the final channel the message", async () => {
  const body = { model: M, input: reversed("<|channel|>analysis<|message|>Let me think.<|end|><|start|>assistant<|channel|>final<|message|>The answer.") };
  const whole = await clientOf(harmony).responses.create(body);
  assert.equal(whole.output.map((item) => item.type), ["reasoning", "message"]);
  assert.equal((whole.output[0] as OpenAI.Responses.ResponseReasoningItem).content, [{ type: "reasoning_text", text: "Let me think." }]);
  assert.is(whole.output_text, "The answer.");
  const events = await streamEvents(harmony, body);
  assert.is(deltas(events, "response.reasoning_text.delta"), "Let me think.");
  assert.is(deltas(events, "response.output_text.delta"), "The answer.");
});

test("malformed requests are 400s naming the field", async () => {
  const cases: [body: Record<string, unknown>, param: string][] = [
    [{ model: M }, "input"],
    [{ model: M, input: 42 }, "input"],
    [{ model: M, input: [{ type: "function_call", name: "f", arguments: "{}" }] }, "input[0].call_id"],
    [{ model: M, input: [{ role: "robot", content: "hi" }] }, "input[0].role"],
    [{ model: M, input: [{ role: "user", content: [{ type: "input_image", image_url: "x" }] }] }, "input[0].content[0].type"],
    [{ model: M, input: [{ type: "item_reference", id: "x" }] }, "input[0].type"],
    [{ model: M, input: "x", tools: [{ type: "web_search_preview" }] }, "tools[0].type"],
    [{ model: M, input: "x", tool_choice: "required" }, "tool_choice"],
    [{ model: M, input: "x", text: { format: { type: "json_schema", name: "n" } } }, "text.format.schema"],
    [{ model: M, input: "x", text: { format: { type: "grammar" } } }, "text.format.type"],
    [{ model: M, input: "x", background: true, store: false }, "background"],
    [{ model: M, input: "x", include: ["message.output_text.logprobs"], top_logprobs: 21 }, "top_logprobs"],
    [{ model: M, input: "x", truncation: "middle" }, "truncation"],
    [{ model: M, input: "x", max_output_tokens: 0 }, "max_output_tokens"],
  ];
  for (const [body, param] of cases) {
    const { status, json } = await postJson(`${stored.url}/v1/responses`, body);
    assert.is(status, 400, JSON.stringify(body));
    assert.is(json.error.param, param, JSON.stringify(body));
    assert.is(json.error.type, "invalid_request_error");
  }
  // "auto" with tools needs a tool-call parser, as in chat.
  const auto = await postJson(`${plain.url}/v1/responses`, { model: M, input: "x", tools });
  assert.is(auto.status, 400);
  assert.is(auto.json.error.param, "tool_choice");
});

test("responses count in the request metrics, and a client that hangs up mid-stream aborts its engine request", async () => {
  if (!stored.fake) return;
  const metrics = async () => metricValue(await (await fetch(`${stored.url}/metrics`)).text(), "vllm:request_success_total", { finished_reason: "stop" }) ?? 0;
  const before = await metrics();
  await client.responses.create({ model: M, input: "count me" });
  assert.is(await metrics(), before + 1);
  const slow = await startTestServer({ fake: { tokenDelayMs: 5 } });
  try {
    const controller = new AbortController();
    const response = await fetch(`${slow.url}/v1/responses`, {
      method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
      body: JSON.stringify({ model: M, input: "a long story that takes a while to tell", stream: true, request_id: "resp_hangup" }),
    });
    await response.body!.getReader().read();
    controller.abort();
    assert.ok(await waitFor(() => slow.fake!.aborted.has("resp_hangup")), "the engine saw the abort");
  } finally {
    await slow.close();
  }
});

test.run();
