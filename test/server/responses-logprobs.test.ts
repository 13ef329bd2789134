// /v1/responses output log-probs (include "message.output_text.logprobs") through the openai
// client: the message's tokens with the log-probs chat gives the same answer, top_logprobs
// alternatives each, none unless included, the reasoning before the message and the calls after
// it left out, and streamed deltas that carry their own tokens and add up to the whole.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startTestServer, type TestServer } from "../support/server-harness.ts";
import { clientOf, ContentsTokenizer, M, reversed, streamEvents } from "./responses-support.ts";

const test = suite("server: /v1/responses output log-probs");
const include: OpenAI.Responses.ResponseIncludable[] = ["message.output_text.logprobs"];
/** The pinned client does not type the request's top_logprobs. */
const topLogprobs = (count: number) => ({ top_logprobs: count }) as object;
let server: TestServer;
let thinking: TestServer;
let client: OpenAI;

/** The output_text part of a Response's message. */
function textPart(response: OpenAI.Responses.Response): OpenAI.Responses.ResponseOutputText {
  const message = response.output.find((item) => item.type === "message")!;
  return message.content[0] as OpenAI.Responses.ResponseOutputText;
}

const tokensOf = (logprobs: readonly { token: string }[]) => logprobs.map((l) => l.token).join("");

/** Log-probs as delta events carry them: no bytes. */
const withoutBytes = (logprobs: readonly OpenAI.Responses.ResponseOutputText.Logprob[]) =>
  logprobs.map(({ token, logprob, top_logprobs }) => ({ token, logprob, top_logprobs: top_logprobs.map((top) => ({ token: top.token, logprob: top.logprob })) }));

const textDeltas = (events: OpenAI.Responses.ResponseStreamEvent[]) =>
  events.filter((e): e is OpenAI.Responses.ResponseTextDeltaEvent => e.type === "response.output_text.delta");

test.before(async () => {
  const fake = { tokenizer: new ContentsTokenizer() };
  server = await startTestServer({ fake, server: { toolCallParser: "hermes" } });
  thinking = await startTestServer({ fake, server: { reasoningParser: "deepseek_r1" } });
  client = clientOf(server);
});
test.after(async () => {
  await Promise.all([server.close(), thinking.close()]);
});

test("the output_text part carries its tokens with the log-probs chat gives the same answer, top_logprobs alternatives each", async () => {
  const input = reversed("Hello there");
  const response = await client.responses.create({ model: M, input, include, ...topLogprobs(2) });
  const chat = await client.chat.completions.create({ model: M, messages: [{ role: "user", content: input }], logprobs: true, top_logprobs: 2 });
  const { logprobs } = textPart(response);
  assert.equal(logprobs, chat.choices[0].logprobs!.content);
  assert.is(tokensOf(logprobs!), "Hello there</s>");
  for (const entry of logprobs!) {
    assert.is(entry.top_logprobs.length, 2);
    assert.equal(entry.bytes, [...Buffer.from(entry.token)]);
  }
  assert.is((response as unknown as { top_logprobs: number }).top_logprobs, 2);
  if (server.fake) assert.is(server.fake.requests.at(-1)!.params.logprobs, 2);
});

test("without top_logprobs only the chosen tokens; without the include no log-probs, and none asked of the engine", async () => {
  const chosen = await client.responses.create({ model: M, input: "ab", include });
  assert.equal(textPart(chosen).logprobs!.map((l) => l.top_logprobs), [[], [], []]);
  const plain = await client.responses.create({ model: M, input: "ab", ...topLogprobs(3), include: ["reasoning.encrypted_content"] });
  assert.equal(textPart(plain).logprobs, []);
  if (server.fake) assert.is(server.fake.requests.at(-1)!.params.logprobs, null);
});

test("the message's log-probs leave out the reasoning before it and the tool calls after it", async () => {
  const body = { model: M, input: reversed("Let me think.</think>The answer."), include };
  const reasoned = await clientOf(thinking).responses.create(body);
  assert.is(tokensOf(textPart(reasoned).logprobs!), "The answer.</s>");
  const streamed = textDeltas(await streamEvents(thinking, body));
  assert.is(tokensOf(streamed.flatMap((d) => d.logprobs)), "The answer.</s>");

  const tools: OpenAI.Responses.FunctionTool[] = [{ type: "function", name: "weather", parameters: { type: "object", properties: {} }, strict: false }];
  const input = reversed(`Let me look.<tool_call>{"name": "weather", "arguments": {}}</tool_call>`);
  const called = await client.responses.create({ model: M, input, tools, include });
  assert.is(called.output.at(-1)!.type, "function_call");
  assert.is(tokensOf(textPart(called).logprobs!), "Let me look.");
});

test("streamed, each output_text.delta carries its tokens' log-probs, and together they are the whole answer's", async () => {
  const body = { model: M, input: reversed("Streamed with log-probs."), include, ...topLogprobs(1) };
  const events = await streamEvents(server, body);
  const deltas = textDeltas(events);
  for (const delta of deltas.filter((d) => d.delta !== "")) assert.is(tokensOf(delta.logprobs), delta.delta);
  // The end-of-sequence token writes no text: it comes last, in a delta of its own.
  assert.equal(deltas.at(-1)!.delta, "");
  assert.is(tokensOf(deltas.at(-1)!.logprobs), "</s>");
  const completed = (events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response;
  const whole = await client.responses.create(body);
  assert.equal(textPart(completed).logprobs, textPart(whole).logprobs);
  const streamed = deltas.flatMap((d) => d.logprobs);
  assert.equal(streamed, withoutBytes(textPart(whole).logprobs!));
  const done = events.find((e): e is OpenAI.Responses.ResponseTextDoneEvent => e.type === "response.output_text.done")!;
  assert.equal(done.logprobs, streamed);
});

test.run();
