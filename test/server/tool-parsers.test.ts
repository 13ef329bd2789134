// The mistral, llama3_json and pythonic tool-call parsers (--tool-call-parser): what each reads as
// calls, what stays content (malformed calls included), how much of an unfinished answer may
// stream, and the same answers whole and streamed through a server.
import OpenAI from "openai";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parsePythonCalls } from "../../server/python-literal.ts";
import { toolCallParsers } from "../../server/tool-parsers.ts";
import { startTestServer } from "../support/server-harness.ts";

const { mistral, llama3_json: llama3Json, pythonic } = toolCallParsers;

test("mistral: text, then [TOOL_CALLS] and a JSON list of {name, arguments}", () => {
  assert.equal(mistral.extract(`Sure. [TOOL_CALLS] [{"name": "weather", "arguments": {"city": "Oslo"}}, {"name": "time", "arguments": {}}]`), {
    content: "Sure. ",
    calls: [{ name: "weather", arguments: `{"city":"Oslo"}` }, { name: "time", arguments: "{}" }],
  });
  // Text after the list (an end-of-turn token kept as text) is read past, as vLLM does.
  assert.equal(mistral.extract(`[TOOL_CALLS][{"name": "time", "arguments": {}}]</s>`), { content: "", calls: [{ name: "time", arguments: "{}" }] });
  for (const text of ["No tools.", `[TOOL_CALLS] [{"name": "weather", "argu`, `[TOOL_CALLS] {"name": "time", "arguments": {}}`, `[TOOL_CALLS] []`, `[TOOL_CALLS] [{"arguments": {}}]`]) {
    assert.is(mistral.extract(text), null, text);
  }
  assert.match(mistral.callId!(), /^[A-Za-z0-9]{9}$/);
});

test("llama3_json: an answer of JSON calls, optionally after <|python_tag|>, several separated by ';'", () => {
  assert.equal(llama3Json.extract(`{"name": "weather", "parameters": {"city": "Oslo", "days": [1, {"n": 2}]}}`), { content: "", calls: [{ name: "weather", arguments: `{"city":"Oslo","days":[1,{"n":2}]}` }] });
  assert.equal(llama3Json.extract(`<|python_tag|>{"name": "a", "arguments": {"s": "} ; {"}}; {"name": "b", "parameters": {}}\n`), {
    content: "",
    calls: [{ name: "a", arguments: `{"s":"} ; {"}` }, { name: "b", arguments: "{}" }],
  });
  for (const text of ["The weather is fine.", ` {"name": "a", "parameters": {}}`, `{"name": "a", "parameters": {}} and more`, `{"name": "a", "parameters": {}}; `, `{"name": "a", "parameters": {`, `{"parameters": {}}`, `{"name": "a"}; {"name": 3}`]) {
    assert.is(llama3Json.extract(text), null, text);
  }
});

test("pythonic: an answer that is a list of calls with literal keyword arguments", () => {
  assert.equal(pythonic.extract(`[get_weather(city="Oslo", days=3), get_time()]`), { content: "", calls: [{ name: "get_weather", arguments: `{"city":"Oslo","days":3}` }, { name: "get_time", arguments: "{}" }] });
  assert.equal(parsePythonCalls(`[f(a='it\\'s', b="\\u00e9\\n", c=[1, -2.5, 1e3, 1_000], d={'k': None, 2: True}, e=False,)]\n`), [
    { name: "f", arguments: { a: "it's", b: "\u00e9\n", c: [1, -2.5, 1000, 1000], d: { k: null, 2: true }, e: false } },
  ]);
  assert.equal(parsePythonCalls(`[f(s="""two\nlines""", t='\\q')]`), [{ name: "f", arguments: { s: "two\nlines", t: "\\q" } }]);
  const notCalls = ["Just text.", " [f()]", "[]", "[f(1)]", "[f(a=b)]", "[f(a=1+2)]", "[f(a=(1, 2))]", "[f(a='open)]", "[f(a=1)] trailing", "[f(a=1)", "[f(a=1), 2]", "[os.system(a='x')]", "[_f()]", `[f(a="\\U00110000")]`, "[f(a={[1]: 2})]"];
  for (const text of notCalls) assert.is(pythonic.extract(text), null, text);
});

test("while streaming, content goes out up to where calls may begin, and not at all from an answer's first character that may begin calls", () => {
  assert.is(mistral.contentEnd("Sure. [TOOL_CALLS] [{"), 6);
  assert.is(mistral.contentEnd("Sure. [TOOL_"), 6);
  assert.is(mistral.contentEnd("Sure. [x"), 8);
  for (const text of ["", "{", `{"name"`, "<|py", "<|python_tag|>{"]) assert.is(llama3Json.contentEnd(text), 0, text);
  for (const text of ["Hello", "<b>", " {"]) assert.is(llama3Json.contentEnd(text), text.length, text);
  for (const text of ["", "[", "[get_weather(city="]) assert.is(pythonic.contentEnd(text), 0, text);
  assert.is(pythonic.contentEnd("The list [1]"), 12);
});

test("each parser's calls and content are the same whole and streamed, and a malformed call is content", async () => {
  const answers: Record<string, [string, string | null, string[]][]> = {
    mistral: [[`Let me check. [TOOL_CALLS] [{"name": "weather", "arguments": {"city": "Oslo"}}]`, "Let me check. ", [`weather {"city":"Oslo"}`]], [`[TOOL_CALLS] [{"name": "weath`, `[TOOL_CALLS] [{"name": "weath`, []]],
    llama3_json: [[`<|python_tag|>{"name": "weather", "parameters": {"city": "Oslo"}}; {"name": "time", "parameters": {}}`, null, [`weather {"city":"Oslo"}`, "time {}"]], [`{"name": broken}`, `{"name": broken}`, []], ["Plain {answer}.", "Plain {answer}.", []]],
    pythonic: [[`[weather(city="Oslo"), time()]`, null, [`weather {"city":"Oslo"}`, "time {}"]], [`[weather(city=Oslo)]`, `[weather(city=Oslo)]`, []], ["No calls [here].", "No calls [here].", []]],
  };
  const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: "function", function: { name: "weather" } }, { type: "function", function: { name: "time" } }];
  for (const [parser, cases] of Object.entries(answers)) {
    const server = await startTestServer({ server: { toolCallParser: parser } });
    try {
      if (!server.fake) return;
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
      for (const [answer, content, calls] of cases) {
        const request = { model: "test-model", messages: [{ role: "user" as const, content: [...answer].reverse().join("") }], tools, chat_template: "{{ messages[0].content }}" };
        const label = `${parser}: ${answer}`;
        const whole = (await client.chat.completions.create(request)).choices[0];
        const wholeCalls = (whole.message.tool_calls ?? []) as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
        assert.is(whole.message.content, content, label);
        assert.equal(wholeCalls.map((c) => `${c.function.name} ${c.function.arguments}`), calls, label);
        assert.is(whole.finish_reason, calls.length > 0 ? "tool_calls" : "stop", label);
        if (parser === "mistral") for (const call of wholeCalls) assert.match(call.id, /^[A-Za-z0-9]{9}$/);
        let streamedContent = "";
        let finish: string | null = null;
        const streamedCalls: string[] = [];
        for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
          const choice = chunk.choices[0];
          streamedContent += choice?.delta.content ?? "";
          for (const call of choice?.delta.tool_calls ?? []) streamedCalls.push(`${call.function?.name} ${call.function?.arguments}`);
          finish = choice?.finish_reason ?? finish;
        }
        assert.is(streamedContent, content ?? "", label);
        assert.equal(streamedCalls, calls, label);
        assert.is(finish, whole.finish_reason, label);
      }
    } finally {
      await server.close();
    }
  }
});

test.run();
