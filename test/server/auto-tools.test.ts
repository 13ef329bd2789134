// tool_choice "auto" with the hermes parser (--enable-auto-tool-choice --tool-call-parser hermes),
// through the official openai client. The fake engine answers with its prompt's bytes reversed,
// so a template that writes the user message alone scripts the model's answer exactly.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { autoToolChoiceParser } from "../../cli/serve.ts";
import { startTestServer, type TestServer } from "../support/server-harness.ts";

const test = suite("server: auto tool choice with the hermes parser");
let server: TestServer;
let client: OpenAI;

const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: "function", function: { name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
const withCall = `I will look.\n<tool_call>\n{"name": "weather", "arguments": {"city": "Oslo"}}\n</tool_call>`;

/** A request whose (fake) model answers `answer`. */
function scripted(answer: string) {
  return {
    model: "test-model",
    messages: [{ role: "user" as const, content: [...answer].reverse().join("") }],
    max_tokens: 400,
    tools,
    chat_template: "{{ messages[0].content }}",
  } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
}

test.before(async () => {
  server = await startTestServer({ server: { toolCallParser: "hermes" } });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});
test.after(async () => server.close());

test("an answer with a call: the text before it as content, the call as tool_calls, finish_reason tool_calls", async () => {
  if (!server.fake) return;
  const answer = await client.chat.completions.create(scripted(withCall));
  const choice = answer.choices[0];
  assert.is(choice.finish_reason, "tool_calls");
  assert.is(choice.message.content, "I will look.\n");
  const [call] = choice.message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
  assert.equal(call.function, { name: "weather", arguments: `{"city":"Oslo"}` });
  assert.match(call.id, /^chatcmpl-tool-/);
  assert.is(server.fake.requests.at(-1)!.params.skipSpecialTokens, false);
});

test("streamed, the content stops before the call's tag and the call streams as it is generated", async () => {
  if (!server.fake) return;
  let content = "";
  const calls: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
  let finish: string | null = null;
  for await (const chunk of await client.chat.completions.create({ ...scripted(withCall), stream: true })) {
    const c = chunk.choices[0];
    content += c?.delta.content ?? "";
    calls.push(...(c?.delta.tool_calls ?? []));
    finish = c?.finish_reason ?? finish;
  }
  assert.is(content, "I will look.\n");
  // The first delta names the call; the arguments follow in pieces, as the model wrote them.
  assert.ok(calls.length > 1);
  assert.equal([calls[0].id?.startsWith("chatcmpl-tool-"), calls[0].function?.name], [true, "weather"]);
  assert.ok(calls.every((c) => c.index === 0) && calls.slice(1).every((c) => c.id === undefined && c.function?.name === undefined));
  assert.is(calls.map((c) => c.function?.arguments).join(""), `{"city": "Oslo"}`);
  assert.is(finish, "tool_calls");
});

test("an answer without a call (or with one that does not parse) is plain content", async () => {
  if (!server.fake) return;
  for (const text of ["No tools needed <tool here.", `<tool_call>{"name": "weather", "argu`]) {
    const answer = await client.chat.completions.create(scripted(text));
    assert.is(answer.choices[0].message.content, text);
    assert.equal(answer.choices[0].message.tool_calls ?? [], []);
    assert.is(answer.choices[0].finish_reason, "stop");
    let streamed = "";
    for await (const chunk of await client.chat.completions.create({ ...scripted(text), stream: true })) streamed += chunk.choices[0]?.delta.content ?? "";
    assert.is(streamed, text);
  }
});

test("serve's --enable-auto-tool-choice needs a known --tool-call-parser", () => {
  assert.is(autoToolChoiceParser(true, "hermes"), "hermes");
  assert.is(autoToolChoiceParser(false, "hermes"), undefined);
  for (const parser of [undefined, "nope"]) assert.throws(() => autoToolChoiceParser(true, parser), /--enable-auto-tool-choice needs --tool-call-parser with one of: hermes/);
});

test("an unknown parser is refused when the server is created", async () => {
  try {
    await startTestServer({ server: { toolCallParser: "nope" } });
    assert.unreachable("expected an error");
  } catch (err) {
    assert.match((err as Error).message, /unknown tool call parser 'nope'; this server has: hermes/);
  }
});

test.run();
