// The tool-call parsers past hermes (--tool-call-parser): what each reads as calls, what stays
// content (malformed calls included), how much of an unfinished answer may stream, and the same
// answers whole and streamed through a server.
import OpenAI from "openai";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parsePythonCalls } from "../../server/python-literal.ts";
import { toolCallParsers } from "../../server/tool-parsers.ts";
import { BOS, ByteTokenizer } from "../support/server-byte-tokenizer.ts";
import { startTestServer } from "../support/server-harness.ts";

const { mistral, llama3_json: llama3Json, pythonic, granite, phi4_mini_json: phi4MiniJson, qwen3_coder: qwen3Coder, deepseek_v3: deepseekV3, internlm } = toolCallParsers;

/** Writes each character's UTF-8 bytes backwards, so the fake engine's reversed prompt is an answer whose characters are whole (DeepSeek's tags are not ASCII). */
class CharReversingTokenizer extends ByteTokenizer {
  override encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const bos = (options.addSpecialTokens ?? true) ? [BOS] : [];
    return [...bos, ...[...text].flatMap((char) => super.encode(char, { addSpecialTokens: false }).reverse())];
  }
}

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

test("granite: an answer that is a JSON list of {name, arguments}, after <|tool_call|> and/or <tool_call> if any", () => {
  const calls = [{ name: "weather", arguments: `{"city":"Oslo"}` }, { name: "time", arguments: "{}" }];
  const list = `[{"name": "weather", "arguments": {"city": "Oslo"}}, {"name": "time", "arguments": {}}]`;
  for (const text of [list, ` <|tool_call|>${list}\n`, `<tool_call> ${list}`, `<|tool_call|><tool_call>${list}`]) assert.equal(granite.extract(text), { content: "", calls }, text);
  const notCalls = ["No tools.", `Sure. <|tool_call|>${list}`, `<|tool_call|> <tool_call>${list}`, `${list} done`, `[{"name": "time"}]`, `[{"name": 3, "arguments": {}}]`, "[]", `[{"name": "time", "arg`];
  for (const text of notCalls) assert.is(granite.extract(text), null, text);
});

test("phi4_mini_json: functools[ and a JSON list, read to its own ']' (a list in the arguments too), text before it content", () => {
  assert.equal(phi4MiniJson.extract(`Sure. functools[{"name": "weather", "arguments": {"days": [1, "]"]}}, {"name": "time", "parameters": {}}]`), {
    content: "Sure. ",
    calls: [{ name: "weather", arguments: `{"days":[1,"]"]}` }, { name: "time", arguments: "{}" }],
  });
  for (const text of ["No tools [here].", `functools[{"name": "time"}]`, `functools[{"name": "time", "arguments": {}}`, "functools[]", `functools{"name": "time", "arguments": {}}`]) {
    assert.is(phi4MiniJson.extract(text), null, text);
  }
});

test("qwen3_coder: XML calls whose parameter values are converted by the tool's schema types, as vLLM does", () => {
  const properties = { s: { type: "string" }, n: { type: "integer" }, x: { type: "number" }, f: { type: "number" }, b: { type: "boolean" }, o: { type: "object" }, a: { type: "array" }, u: { type: ["string", "null"] }, bad: { type: "integer" } };
  const parser = qwen3Coder.forTools!([{ type: "function", function: { name: "f", parameters: { type: "object", properties } } }]);
  const parameters = [["s", " 42 "], ["n", "1_000"], ["x", "2.0"], ["f", "-2.5e1"], ["b", "True"], ["o", "{'k': None, 'v': [1]}"], ["a", "[1, 2]"], ["u", "7"], ["bad", "4.5"], ["extra", "3"], ["s2", "NULL"]];
  const xml = parameters.map(([k, v]) => `<parameter=${k}>\n${v}\n</parameter>\n`).join("");
  assert.equal(parser.extract(`Let me check.\n<tool_call>\n<function=f>\n${xml}</function>\n</tool_call>`), {
    content: "Let me check.\n",
    calls: [{ name: "f", arguments: JSON.stringify({ s: " 42 ", n: 1000, x: 2, f: -25, b: true, o: { k: null, v: [1] }, a: [1, 2], u: 7, bad: "4.5", extra: "3", s2: null }) }],
  });
  // Without the request's tools every value stays text; a last call left open still counts, and
  // <function=...> without <tool_call> is read too.
  assert.equal(qwen3Coder.extract(`<tool_call><function=a><parameter=n>1</parameter></function></tool_call><tool_call><function=b><parameter=k>v<parameter=j>w`), {
    content: "",
    calls: [{ name: "a", arguments: `{"n":"1"}` }, { name: "b", arguments: `{"k":"v","j":"w"}` }],
  });
  assert.equal(qwen3Coder.extract(`Text <function=a></function>`), { content: "Text ", calls: [{ name: "a", arguments: "{}" }] });
  for (const text of ["No tools.", "<tool_call>{}</tool_call>", "<function=a", "<function=a><parameter=k", "<tool_call></tool_call> <function=a></function>"]) assert.is(qwen3Coder.extract(text), null, text);
});

test("deepseek_v3: calls of a name and a one-line ```json block between DeepSeek's special tokens", () => {
  const call = (name: string, args: string) => `<｜tool▁call▁begin｜>function<｜tool▁sep｜>${name}\n\`\`\`json\n${args}\n\`\`\`<｜tool▁call▁end｜>`;
  assert.equal(deepseekV3.extract(`Let me check.<｜tool▁calls▁begin｜>${call("weather", `{"city": "Oslo"}`)}\n${call("time", "{}")}<｜tool▁calls▁end｜>`), {
    content: "Let me check.",
    calls: [{ name: "weather", arguments: `{"city": "Oslo"}` }, { name: "time", arguments: "{}" }],
  });
  const notCalls = ["No tools.", "<｜tool▁calls▁begin｜>", `<｜tool▁calls▁begin｜>${call("weather", `{\n"city": "Oslo"\n}`)}`, `<｜tool▁calls▁begin｜>${call("weather", "{city}")}`, `<｜tool▁calls▁begin｜>${call("time", "{}").replace("function", "tool")}`, `<｜tool▁calls▁begin｜>${call("time", "{}")}<｜tool▁call▁begin｜>function<｜tool▁sep｜>cut`];
  for (const text of notCalls) assert.is(deepseekV3.extract(text), null, text);
});

test("internlm: one JSON call between <|action_start|><|plugin|> and <|action_end|>, after any text", () => {
  assert.equal(internlm.extract(`Let me check.<|action_start|><|plugin|>\n{"name": "weather", "parameters": {"city": "Oslo"}}<|action_end|>`), { content: "Let me check.", calls: [{ name: "weather", arguments: `{"city":"Oslo"}` }] });
  assert.equal(internlm.extract(`<|action_start|><|plugin|>{"name": "time", "arguments": {}}`), { content: "", calls: [{ name: "time", arguments: "{}" }] });
  const twice = `<|action_start|><|plugin|>{"name": "time"}<|action_end|>`.repeat(2);
  for (const text of ["No tools.", `<|action_start|><|plugin|>{"name": "time"`, `<|action_start|><|plugin|>{"arguments": {}}`, twice]) assert.is(internlm.extract(text), null, text);
});

test("while streaming, content goes out up to where calls may begin, and not at all from an answer's first character that may begin calls", () => {
  assert.is(mistral.contentEnd("Sure. [TOOL_CALLS] [{"), 6);
  assert.is(mistral.contentEnd("Sure. [TOOL_"), 6);
  assert.is(mistral.contentEnd("Sure. [x"), 8);
  for (const text of ["", "{", `{"name"`, "<|py", "<|python_tag|>{"]) assert.is(llama3Json.contentEnd(text), 0, text);
  for (const text of ["Hello", "<b>", " {"]) assert.is(llama3Json.contentEnd(text), text.length, text);
  for (const text of ["", "[", "[get_weather(city="]) assert.is(pythonic.contentEnd(text), 0, text);
  assert.is(pythonic.contentEnd("The list [1]"), 12);
  for (const text of ["", " ", "<|tool", "<|tool_call|>", "<|tool_call|><tool", "<tool_call> [", "[{"]) assert.is(granite.contentEnd(text), 0, text);
  for (const text of ["Hello", "<b>", "<|tool_call|> Hi"]) assert.is(granite.contentEnd(text), text.length, text);
  assert.is(phi4MiniJson.contentEnd("Sure. functo"), 6);
  assert.is(qwen3Coder.contentEnd("Hi <function=a><tool_call>"), 3);
  assert.is(qwen3Coder.contentEnd("Hi <tool_call><function=a>"), 3);
  assert.is(qwen3Coder.contentEnd("Hi <func"), 3);
  assert.is(deepseekV3.contentEnd("Sure<｜tool▁calls"), 4);
  assert.is(internlm.contentEnd("Sure<|action_start|>"), 4);
});

test("each parser's calls and content are the same whole and streamed, and a malformed call is content", async () => {
  const answers: Record<string, [string, string | null, string[]][]> = {
    mistral: [[`Let me check. [TOOL_CALLS] [{"name": "weather", "arguments": {"city": "Oslo"}}]`, "Let me check. ", [`weather {"city":"Oslo"}`]], [`[TOOL_CALLS] [{"name": "weath`, `[TOOL_CALLS] [{"name": "weath`, []]],
    llama3_json: [[`<|python_tag|>{"name": "weather", "parameters": {"city": "Oslo"}}; {"name": "time", "parameters": {}}`, null, [`weather {"city":"Oslo"}`, "time {}"]], [`{"name": broken}`, `{"name": broken}`, []], ["Plain {answer}.", "Plain {answer}.", []]],
    pythonic: [[`[weather(city="Oslo"), time()]`, null, [`weather {"city":"Oslo"}`, "time {}"]], [`[weather(city=Oslo)]`, `[weather(city=Oslo)]`, []], ["No calls [here].", "No calls [here].", []]],
    granite: [[`<|tool_call|>[{"name": "weather", "arguments": {"city": "Oslo"}}, {"name": "time", "arguments": {}}]`, null, [`weather {"city":"Oslo"}`, "time {}"]], [`<tool_call>[{"name": "time"}]`, `<tool_call>[{"name": "time"}]`, []], ["<b>Hi</b>", "<b>Hi</b>", []]],
    phi4_mini_json: [[`Sure. functools[{"name": "weather", "arguments": {"city": "Oslo"}}]`, "Sure. ", [`weather {"city":"Oslo"}`]], [`functools[{"name": "weather"}]`, `functools[{"name": "weather"}]`, []]],
    qwen3_coder: [
      [`Let me check.\n<tool_call>\n<function=weather>\n<parameter=city>\nOslo\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>`, "Let me check.\n", [`weather {"city":"Oslo","days":3}`]],
      ["<tool_call>\n<function=weather\n</tool_call>", "<tool_call>\n<function=weather\n</tool_call>", []],
    ],
    deepseek_v3: [
      ["Sure.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>weather\n```json\n{\"city\": \"Oslo\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "Sure.", [`weather {"city": "Oslo"}`]],
      ["<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>weath", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>weath", []],
    ],
    internlm: [[`Sure.<|action_start|><|plugin|>{"name": "time", "parameters": {}}<|action_end|>`, "Sure.", ["time {}"]], [`<|action_start|><|plugin|>{"name"`, `<|action_start|><|plugin|>{"name"`, []]],
  };
  const weatherParameters = { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } } };
  const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: "function", function: { name: "weather", parameters: weatherParameters } }, { type: "function", function: { name: "time" } }];
  for (const [parser, cases] of Object.entries(answers)) {
    const server = await startTestServer({ fake: { tokenizer: new CharReversingTokenizer() }, server: { toolCallParser: parser } });
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
        const streamedCalls: { name?: string; arguments: string }[] = [];
        for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
          const choice = chunk.choices[0];
          streamedContent += choice?.delta.content ?? "";
          for (const call of choice?.delta.tool_calls ?? []) {
            const joined = (streamedCalls[call.index] ??= { name: call.function?.name, arguments: "" });
            joined.arguments += call.function?.arguments ?? "";
          }
          finish = choice?.finish_reason ?? finish;
        }
        assert.is(streamedContent, content ?? "", label);
        // Streamed, the arguments are the model's own text: the same JSON as the whole answer's.
        const asJson = (name: string | undefined, args: string) => `${name} ${JSON.stringify(JSON.parse(args))}`;
        assert.equal(streamedCalls.map((c) => asJson(c.name, c.arguments)), wholeCalls.map((c) => asJson(c.function.name, c.function.arguments)), label);
        assert.is(finish, whole.finish_reason, label);
      }
    } finally {
      await server.close();
    }
  }
});

test.run();
