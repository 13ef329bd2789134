// "auto" tool calls streamed as they are generated (tool-call-stream.ts, auto-tool-stream.ts): for
// every parser, answers fed a character at a time, in token-like chunks and whole, whose streamed
// calls name each call once, never take back what went out, join up to the arguments of the last
// reading and to the same JSON as the parser's whole reading; JSON arguments arrive in pieces;
// malformed calls send nothing and end as content. Then the JSON scanner's holding back, and a chat
// and a Responses stream through a server.
import OpenAI from "openai";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ChatMessage, ChatTemplateOptions } from "../../runtime/tokenizer/types.ts";
import { renderChatTemplate } from "../../runtime/tokenizer/chat-template.ts";
import { AutoToolCalls, ToolCallDeltas, type ToolCallDelta } from "../../server/auto-tool-stream.ts";
import { JsonScanner } from "../../server/json-scanner.ts";
import type { StreamedToolCall } from "../../server/tool-call-stream.ts";
import { toolCallParsers, type ToolCallParser } from "../../server/tool-parsers.ts";
import { ByteTokenizer } from "../support/server-byte-tokenizer.ts";
import { startTestServer } from "../support/server-harness.ts";

const weatherTools = [{ type: "function" as const, function: { name: "weather", parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } } } } }];
const parsers: Record<string, ToolCallParser> = { ...toolCallParsers, qwen3_coder: toolCallParsers.qwen3_coder.forTools!(weatherTools) };

/** Arguments long enough to stream in pieces, with what a scanner must not be fooled by: escapes, braces in strings, numbers and literals. */
const long = `{"city": "Oslo", "note": "a \\"quoted\\" word, \\u00e9, and } ] { [ in text", "days": [1, 2.5, -3e2, true, false, null], "nested": {"deep": {"list": [{"k": "v"}]}}}`;
const deepseekCall = (name: string, args: string) => `<｜tool▁call▁begin｜>function<｜tool▁sep｜>${name}\n\`\`\`json\n${args}\n\`\`\`<｜tool▁call▁end｜>`;

/** Answers of calls, by parser; the first call's arguments stream in pieces where `pieces` is set. */
const wellFormed: Record<string, { pieces: boolean; answers: string[] }> = {
  hermes: {
    pieces: true,
    answers: [
      `Let me check.\n<tool_call>\n{"name": "weather", "arguments": ${long}}\n</tool_call>\n<tool_call>\n{"arguments": {"tz": "CET"}, "name": "time"}\n</tool_call>`,
      `<tool_call>{"name": "weather", "arguments": ${long}}</tool_call><tool_call>{"name": "a", "arguments": null}</tool_call><tool_call>{"name": "b", "arguments": "as text"}</tool_call><tool_call>{"name": "c"}`,
    ],
  },
  mistral: { pieces: true, answers: [`Sure. [TOOL_CALLS] [{"name": "weather", "arguments": ${long}}, {"name": "time", "arguments": {}}]`, `[TOOL_CALLS][{"name": "weather", "arguments": ${long}}]</s>`] },
  llama3_json: { pieces: true, answers: [`<|python_tag|>{"name": "weather", "parameters": ${long}}; {"name": "time", "parameters": {}}\n`, `{"name": "weather", "arguments": ${long}}`] },
  granite: { pieces: true, answers: [` <|tool_call|>[{"name": "weather", "arguments": ${long}}, {"name": "time", "arguments": {}}]\n`, `<tool_call> [{"name": "weather", "arguments": ${long}}]`] },
  phi4_mini_json: { pieces: true, answers: [`Sure. functools[{"name": "weather", "arguments": ${long}}, {"name": "time", "parameters": {}}]`] },
  internlm: { pieces: true, answers: [`Sure.<|action_start|><|plugin|>\n{"name": "weather", "parameters": ${long}}<|action_end|>`, `<|action_start|><|plugin|>{"name": "weather", "arguments": ${long}}`] },
  deepseek_v3: { pieces: true, answers: [`Sure.<｜tool▁calls▁begin｜>${deepseekCall("weather", long)}\n${deepseekCall("time", "{}")}<｜tool▁calls▁end｜>`] },
  pythonic: { pieces: false, answers: [`[get_weather(city="Oslo", note='it\\'s, (1), ]'), get_time()]`, `[ f(a=[1, {"x": "),"}]) , g(b={'k': ")"}) ]\n`] },
  qwen3_coder: {
    pieces: false,
    answers: [
      `Let me check.\n<tool_call>\n<function=weather>\n<parameter=city>\nOslo\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=time>\n</function>\n</tool_call>`,
      `<tool_call><function=weather><parameter=city>Oslo</parameter></function></tool_call><tool_call><function=time><parameter=tz>CET`,
    ],
  },
};

/** Call text that does not parse, by parser: nothing of it may go out as a call. */
const malformed: Record<string, string[]> = {
  hermes: [`<tool_call>{"name": "weather", "argu`, `<tool_call>{"arguments": {"city": "Oslo"}}</tool_call>`, `<tool_call>{"name": 3, "arguments": {}}</tool_call>`, `<tool_call>[{"name": "a", "arguments": {}}]</tool_call>`, "<tool_call></tool_call>"],
  mistral: [`[TOOL_CALLS] [{"name": "weath`, `[TOOL_CALLS] {"name": "time", "arguments": {}}`, "[TOOL_CALLS] []", `[TOOL_CALLS] [{"arguments": {}}]`],
  llama3_json: [`{"name": broken}`, `{"parameters": {"a": 1}}`, ` {"name": "a", "parameters": {}}`, `{"name": "a"`],
  granite: [`[{"name": "time"}]`, `<tool_call>[{"name": 3, "arguments": {}}]`, `[{"name": "time", "arg`],
  phi4_mini_json: [`functools[{"name": "weather"}]`, `functools{"name": "time", "arguments": {}}`, "functools[]"],
  internlm: [`<|action_start|><|plugin|>{"name"`, `<|action_start|><|plugin|>{"arguments": {}}<|action_end|>`],
  deepseek_v3: [
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>weath",
    `<｜tool▁calls▁begin｜>${deepseekCall("time", "{}").replace("function", "tool")}`,
    `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>time\n\`\`\`js\n{}`,
  ],
  pythonic: ["[weather(city=Oslo)]", "[f(a=1)", "[os.system(a='x')]"],
  qwen3_coder: ["<tool_call>\n<function=weather\n</tool_call>", "<tool_call>{}</tool_call>", "<function=a><parameter=k"],
};

/** Ways a model's answer arrives: a character at a time (then an end without text, as an EOS token brings), in token-like chunks, and whole. */
function chunkings(text: string): [string, string[]][] {
  const tokens = text.match(/\s*(?:\w+|[^\w\s]{1,2})|\s+/gu) ?? [];
  assert.is(tokens.join(""), text);
  return [["characters", [...[...text], ""]], ["tokens", tokens], ["whole", [text]]];
}

/** Streams `chunks` as ChatStreamer does, checking that each reading only adds to the last. */
function streamed(parser: ToolCallParser, chunks: string[], label: string) {
  const reading = new AutoToolCalls(parser);
  const toChat = new ToolCallDeltas(parser);
  const deltas: { delta: ToolCallDelta; final: boolean }[] = [];
  let text = "";
  let contentEnd = 0;
  let calls: StreamedToolCall[] = [];
  let called = false;
  chunks.forEach((chunk, i) => {
    text += chunk;
    const final = i === chunks.length - 1;
    const now = reading.read(text, final);
    assert.ok(now.calls.length >= calls.length, `${label}: a call was taken back`);
    calls.forEach((call, k) => {
      assert.is(now.calls[k].name, call.name, label);
      assert.ok(now.calls[k].argumentsSoFar.startsWith(call.argumentsSoFar), `${label}: arguments were taken back`);
    });
    contentEnd = Math.max(contentEnd, now.contentEnd);
    calls = now.calls;
    called = now.called;
    deltas.push(...toChat.of(now.calls).map((delta) => ({ delta, final })));
  });
  return { content: text.slice(0, contentEnd), calls, called, deltas };
}

/** The deltas of each call joined as a client joins them, checking that only a call's first delta names it. */
function joined(deltas: readonly { delta: ToolCallDelta }[], label: string) {
  const calls: { id: string; name: string; arguments: string; pieces: number }[] = [];
  for (const { delta } of deltas) {
    const call = calls[delta.index];
    if (call === undefined) {
      assert.equal([typeof delta.id, delta.type, typeof delta.function.name], ["string", "function", "string"], `${label}: a call's first delta names it`);
      calls[delta.index] = { id: delta.id!, name: delta.function.name!, arguments: delta.function.arguments, pieces: delta.function.arguments === "" ? 0 : 1 };
      continue;
    }
    assert.equal([delta.id, delta.type, delta.function.name], [undefined, undefined, undefined], `${label}: a call is named once`);
    call.arguments += delta.function.arguments;
    call.pieces++;
  }
  return calls;
}

test("every parser's calls stream named once, only growing, joining up to the last reading and to the JSON of the parser's whole reading", () => {
  for (const [name, { pieces, answers }] of Object.entries(wellFormed)) {
    const parser = parsers[name];
    for (const answer of answers) {
      const whole = parser.extract(answer);
      assert.ok(whole !== null, answer);
      for (const [way, chunks] of chunkings(answer)) {
        const label = `${name} (${way}): ${answer}`;
        const stream = streamed(parser, chunks, label);
        const calls = joined(stream.deltas, label);
        assert.ok(stream.called, label);
        assert.is(stream.content, whole.content, label);
        assert.equal(calls.map((c) => c.arguments), stream.calls.map((c) => c.argumentsSoFar), label);
        assert.equal(calls.map((c) => c.name), whole.calls.map((c) => c.name), label);
        calls.forEach((call, i) => assert.equal(JSON.parse(call.arguments), JSON.parse(whole.calls[i].arguments), label));
        if (way === "whole") continue;
        // The point of streaming: the first call goes out before the answer ends, and JSON arguments in pieces.
        assert.ok(stream.deltas.some((d) => !d.final && d.delta.index === 0), `${label}: the first call waited for the end`);
        if (pieces) assert.ok(calls[0].pieces > 5 && stream.deltas.filter((d) => !d.final && d.delta.index === 0).length > 5, `${label}: the arguments came in one piece`);
      }
    }
  }
});

test("call text that does not parse sends no call and ends as content", () => {
  for (const [name, answers] of Object.entries(malformed)) {
    const parser = parsers[name];
    for (const answer of answers) {
      assert.is(parser.extract(answer), null, answer);
      for (const [way, chunks] of chunkings(answer)) {
        const label = `${name} (${way}): ${answer}`;
        const stream = streamed(parser, chunks, label);
        assert.equal(stream.deltas, [], label);
        assert.is(stream.content, answer, label);
        assert.not.ok(stream.called, label);
      }
    }
  }
});

test("an answer cut off inside a call's arguments keeps what went out, up to its last whole token, and is not called", () => {
  const stream = streamed(parsers.hermes, [...`Hi <tool_call>{"name": "weather", "arguments": {"city": "Oslo", "days": 12`], "cut off");
  assert.equal(joined(stream.deltas, "cut off").map((c) => [c.name, c.arguments]), [["weather", `{"city": "Oslo", "days": `]]);
  assert.is(stream.content, "Hi ");
  assert.not.ok(stream.called);
});

test("call ids come with each call's first delta, of the parser's own kind where it has one", () => {
  const answer = `[TOOL_CALLS] [{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}]`;
  const ids = joined(streamed(parsers.mistral, [...answer], "mistral").deltas, "mistral").map((c) => c.id);
  assert.is(ids.length, 2);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9]{9}$/);
  const hermesIds = joined(streamed(parsers.hermes, [`<tool_call>{"name": "a", "arguments": {}}</tool_call>`], "hermes").deltas, "hermes").map((c) => c.id);
  assert.match(hermesIds[0], /^chatcmpl-tool-/);
});

test("a parser without a streaming reader sends its calls whole at the end", () => {
  const parser: ToolCallParser = { ...toolCallParsers.hermes, name: "hermes-without-reader" };
  const stream = streamed(parser, [...`Hi <tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>`], "no reader");
  assert.equal(stream.deltas.map((d) => [d.final, d.delta.function]), [[true, { name: "a", arguments: `{"x":1}` }]]);
  assert.is(stream.content, "Hi ");
  assert.ok(stream.called);
});

test("the JSON scanner holds back a number, literal or escape until it is whole, and stops where the text is no JSON", () => {
  const scanned = (text: string) => {
    const scanner = new JsonScanner(0);
    scanner.scan(text);
    return { certain: text.slice(0, scanner.safeEnd), failed: scanner.failed, end: scanner.end };
  };
  assert.equal(scanned(`{"a": 12`), { certain: `{"a": `, failed: false, end: -1 });
  assert.equal(scanned(`{"a": tru`), { certain: `{"a": `, failed: false, end: -1 });
  assert.equal(scanned(`{"a": "x\\u00`), { certain: `{"a": "x`, failed: false, end: -1 });
  assert.equal(scanned(`{"a": "x\\n`), { certain: `{"a": "x\\n`, failed: false, end: -1 });
  assert.equal(scanned(`{"a": [1, 2] } tail`), { certain: `{"a": [1, 2] }`, failed: false, end: 14 });
  for (const text of [`{"a": 1 2}`, `{"a": tx}`, `{"a": 01}`, `{a: 1}`, `{"a": "\\x"}`, `{"a": "\n"}`, `[1,]`, `{"a" 1}`]) assert.ok(scanned(text).failed, text);
  const number = new JsonScanner(0);
  number.scan("-2.5e3");
  number.finish("-2.5e3");
  assert.equal([number.end, number.wholeBefore("-2.5e3 ", 7)], [6, true]);
});

/** Writes each message's content alone, so the fake engine's reversed prompt is the answer (the Responses API has no chat_template field). */
class ContentsTokenizer extends ByteTokenizer {
  override applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    return renderChatTemplate({ template: "{% for m in messages %}{{ m.content }}{% endfor %}", bosToken: "<s>", eosToken: "</s>" }, messages, options);
  }
}

test("through a server: a chat stream and a Responses stream send a call's arguments in pieces before the answer ends", async () => {
  const server = await startTestServer({ fake: { tokenizer: new ContentsTokenizer() }, server: { toolCallParser: "hermes" } });
  try {
    if (!server.fake) return;
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
    const answer = `Let me look.\n<tool_call>\n{"name": "weather", "arguments": ${long}}\n</tool_call>`;
    const input = [...answer].reverse().join("");
    const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }];
    const whole = await client.chat.completions.create({ model: "test-model", messages: [{ role: "user", content: input }], tools });
    const wholeCall = whole.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;

    let content = "";
    const argumentChunks: string[] = [];
    const firsts: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    for await (const chunk of await client.chat.completions.create({ model: "test-model", messages: [{ role: "user", content: input }], tools, stream: true })) {
      const choice = chunk.choices[0];
      content += choice?.delta.content ?? "";
      for (const call of choice?.delta.tool_calls ?? []) {
        if (call.id !== undefined) firsts.push(call);
        if (choice.finish_reason === null && call.function?.arguments) argumentChunks.push(call.function.arguments);
      }
      finish = choice?.finish_reason ?? finish;
    }
    assert.is(content, "Let me look.\n");
    assert.equal(firsts.map((c) => [c.index, c.type, c.function?.name]), [[0, "function", "weather"]]);
    assert.ok(argumentChunks.length > 5, "the arguments came in pieces while the answer went on");
    assert.is(argumentChunks.join(""), long);
    assert.equal(JSON.parse(argumentChunks.join("")), JSON.parse(wholeCall.function.arguments));
    assert.is(finish, "tool_calls");

    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of await client.responses.create({ model: "test-model", input, tools: [{ type: "function", name: "weather", parameters: { type: "object" }, strict: false }], stream: true })) events.push(event);
    const argumentDeltas = events.filter((e) => e.type === "response.function_call_arguments.delta").map((e) => (e as OpenAI.Responses.ResponseFunctionCallArgumentsDeltaEvent).delta);
    const completed = (events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response;
    const call = completed.output[1] as OpenAI.Responses.ResponseFunctionToolCall;
    assert.ok(argumentDeltas.length > 5, "the Responses stream's arguments came in pieces");
    assert.is(argumentDeltas.join(""), call.arguments);
    assert.equal(JSON.parse(call.arguments), JSON.parse(wholeCall.function.arguments));
    assert.equal(completed.output.map((item) => item.type), ["message", "function_call"]);
  } finally {
    await server.close();
  }
});

test.run();
