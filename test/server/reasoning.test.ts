// --reasoning-parser deepseek_r1 | qwen3 | openai_gptoss through the official openai client: the
// answer's thinking goes out as `reasoning` (and `reasoning_content`), the rest as content;
// streamed, tags (harmony's channel markers) split over one-byte deltas never leak and the deltas
// add up to the whole answer. The fake engine
// answers with its prompt's bytes reversed, so a template that writes the user message alone
// scripts the model's answer exactly.
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { compileRegexDfa } from "../../runtime/structured/regex-dfa.ts";
import { reasoningParserNamed, reasoningParsers, splitReasoning } from "../../server/reasoning-parsers.ts";
import { dfaAccepts } from "../support/dfa-walk.ts";
import { postJson, startTestServer, type TestServer } from "../support/server-harness.ts";

const test = suite("server: reasoning parsers");
let r1: TestServer;
let qwen3: TestServer;
let gptOss: TestServer;

const tools: OpenAI.Chat.ChatCompletionTool[] = [{ type: "function", function: { name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];

interface ReasoningMessage {
  content: string | null;
  reasoning?: string | null;
  reasoning_content?: string | null;
  tool_calls?: OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
}

/** A request whose (fake) model answers `answer`. */
function scripted(answer: string, extra: Record<string, unknown> = {}) {
  return {
    model: "test-model",
    messages: [{ role: "user" as const, content: [...answer].reverse().join("") }],
    chat_template: "{{ messages[0].content }}",
    ...extra,
  } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
}

function clientOf(server: TestServer): OpenAI {
  return new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
}

async function whole(server: TestServer, answer: string, extra: Record<string, unknown> = {}) {
  const response = await clientOf(server).chat.completions.create(scripted(answer, extra));
  return { message: response.choices[0].message as unknown as ReasoningMessage, finish: response.choices[0].finish_reason };
}

/** The stream's deltas added up, and how many chunks carried reasoning and content. */
async function streamed(server: TestServer, answer: string, extra: Record<string, unknown> = {}) {
  const stream = await clientOf(server).chat.completions.create({ ...scripted(answer, extra), stream: true });
  const out = { reasoning: "", content: "", reasoningChunks: 0, contentChunks: 0, contentBeforeReasoning: false, toolCalls: [] as OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall[], finish: null as string | null };
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (choice === undefined) continue;
    const delta = choice.delta as ReasoningMessage & OpenAI.Chat.ChatCompletionChunk.Choice.Delta;
    assert.is(delta.reasoning, delta.reasoning_content, "both names carry the same reasoning");
    for (const part of [delta.reasoning, delta.content]) assert.not.match(part ?? "", /<\/?think>/);
    if (delta.reasoning) {
      out.reasoning += delta.reasoning;
      out.reasoningChunks++;
    }
    if (delta.content) {
      out.content += delta.content;
      out.contentChunks++;
    }
    out.contentBeforeReasoning ||= delta.reasoning != null && out.content !== "";
    out.toolCalls.push(...(delta.tool_calls ?? []));
    out.finish = choice.finish_reason ?? out.finish;
  }
  return out;
}

test.before(async () => {
  r1 = await startTestServer({ server: { reasoningParser: "deepseek_r1", toolCallParser: "hermes" } });
  qwen3 = await startTestServer({ server: { reasoningParser: "qwen3" } });
  gptOss = await startTestServer({ server: { reasoningParser: "openai_gptoss" } });
});
test.after(async () => {
  await r1.close();
  await qwen3.close();
  await gptOss.close();
});

test("thinking_token_budget reaches the engine's sampling params from chat and completions; below -1 is a 400 naming it", async () => {
  if (!r1.fake) return;
  const chat = { model: "test-model", messages: [{ role: "user", content: "hi" }], max_tokens: 4 };
  assert.is((await postJson(`${r1.baseURL}/chat/completions`, { ...chat, thinking_token_budget: 3 })).status, 200);
  assert.is(r1.fake.requests.at(-1)!.params.thinkingTokenBudget, 3);
  assert.is((await postJson(`${r1.baseURL}/completions`, { model: "test-model", prompt: "hi", max_tokens: 4, thinking_token_budget: 0 })).status, 200);
  assert.is(r1.fake.requests.at(-1)!.params.thinkingTokenBudget, 0);
  assert.is((await postJson(`${r1.baseURL}/chat/completions`, chat)).status, 200);
  assert.is(r1.fake.requests.at(-1)!.params.thinkingTokenBudget, null);
  const bad = await postJson(`${r1.baseURL}/chat/completions`, { ...chat, thinking_token_budget: -2 });
  assert.is(bad.status, 400);
  assert.ok(JSON.stringify(bad.json.error).includes("thinking_token_budget"), JSON.stringify(bad.json));
});

test("deepseek_r1: the text up to </think> is reasoning, a leading <think> dropped; without </think> all of it", async () => {
  if (!r1.fake) return;
  const cases: [string, string, string | null][] = [
    ["<think>Two and two.</think>The answer is 4.", "Two and two.", "The answer is 4."],
    ["The template opened it.</think>\n\nFour.", "The template opened it.", "\n\nFour."],
    ["Still thinking when cut off", "Still thinking when cut off", null],
    ["<think>Done.</think>", "Done.", null],
    ["A <think> later is text.</think>ok", "A <think> later is text.", "ok"],
  ];
  for (const [answer, reasoning, content] of cases) {
    const { message, finish } = await whole(r1, answer);
    assert.is(message.reasoning, reasoning, answer);
    assert.is(message.reasoning_content, reasoning, answer);
    assert.is(message.content, content, answer);
    assert.is(finish, "stop");
  }
});

test("streamed, reasoning comes first and content after, adding up to the whole answer's", async () => {
  if (!r1.fake) return;
  for (const answer of ["<think>Two and two.</think>The answer is 4.", "Opened by the template.</think>Four.", "Cut off <thi", "x</think", "<</think><think>", "</think>Only content."]) {
    const { message } = await whole(r1, answer);
    const stream = await streamed(r1, answer);
    assert.is(stream.reasoning, message.reasoning ?? "", answer);
    assert.is(stream.content, message.content ?? "", answer);
    assert.not.ok(stream.contentBeforeReasoning, answer);
  }
  // One byte per token: the reasoning and the content each arrive over many chunks, not at the end.
  const stream = await streamed(r1, "<think>Two and two.</think>The answer is 4.");
  assert.ok(stream.reasoningChunks > 5 && stream.contentChunks > 5, JSON.stringify(stream));
});

test("include_reasoning false leaves the reasoning out, whole and streamed", async () => {
  if (!r1.fake) return;
  const answer = "<think>Private.</think>Public.";
  const { message } = await whole(r1, answer, { include_reasoning: false });
  assert.is(message.reasoning, null);
  assert.is(message.reasoning_content, null);
  assert.is(message.content, "Public.");
  const stream = await streamed(r1, answer, { include_reasoning: false });
  assert.is(stream.reasoning, "");
  assert.is(stream.content, "Public.");
});

test("tool calls are read from the content after the reasoning only", async () => {
  if (!r1.fake) return;
  const call = `<tool_call>{"name": "weather", "arguments": {"city": "Oslo"}}</tool_call>`;
  const withCall = `<think>I should ask for the weather.</think>Looking.\n${call}`;
  const { message, finish } = await whole(r1, withCall, { tools });
  assert.is(finish, "tool_calls");
  assert.is(message.reasoning, "I should ask for the weather.");
  assert.is(message.content, "Looking.\n");
  assert.equal(message.tool_calls?.map((c) => c.function), [{ name: "weather", arguments: `{"city":"Oslo"}` }]);
  const stream = await streamed(r1, withCall, { tools });
  assert.is(stream.reasoning, "I should ask for the weather.");
  assert.is(stream.content, "Looking.\n");
  // The call streams as it is generated: its name first, then its arguments in pieces that join up.
  assert.is(stream.toolCalls[0].function?.name, "weather");
  assert.equal(JSON.parse(stream.toolCalls.map((c) => c.function?.arguments ?? "").join("")), { city: "Oslo" });
  assert.is(stream.finish, "tool_calls");

  const thoughtOnly = `<think>Maybe ${call}? No.</think>No call needed.`;
  const plain = await whole(r1, thoughtOnly, { tools });
  assert.is(plain.finish, "stop");
  assert.equal(plain.message.tool_calls ?? [], []);
  assert.is(plain.message.reasoning, `Maybe ${call}? No.`);
  assert.is(plain.message.content, "No call needed.");
  const plainStream = await streamed(r1, thoughtOnly, { tools });
  assert.is(plainStream.reasoning, `Maybe ${call}? No.`);
  assert.is(plainStream.content, "No call needed.");
  assert.is(plainStream.toolCalls.length, 0);
});

test("a named tool choice takes its arguments from after the reasoning, and streams the call once they come", async () => {
  if (!r1.fake) return;
  const answer = `<think>Oslo it is.</think>{"city": "Oslo"}`;
  const choice = { tools, tool_choice: { type: "function", function: { name: "weather" } } };
  const { message } = await whole(r1, answer, choice);
  assert.is(message.reasoning, "Oslo it is.");
  assert.equal(message.tool_calls?.map((c) => c.function), [{ name: "weather", arguments: `{"city": "Oslo"}` }]);
  const stream = await streamed(r1, answer, choice);
  assert.is(stream.reasoning, "Oslo it is.");
  assert.is(stream.toolCalls.filter((c) => c.id !== undefined).length, 1);
  assert.is(stream.toolCalls.map((c) => c.function?.arguments ?? "").join(""), `{"city": "Oslo"}`);
});

test("a structured-output constraint applies after </think> only", async () => {
  if (!r1.fake) return;
  const schema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"], additionalProperties: false };
  await whole(r1, `<think>Count.</think>{"n": 3}`, { response_format: { type: "json_schema", json_schema: { name: "n", schema } } });
  const constraint = r1.fake.requests.at(-1)!.params.structuredOutputs!;
  assert.is(constraint.json, undefined);
  const dfa = compileRegexDfa(constraint.regex!, "structured_outputs.regex");
  for (const text of [`<think>Count.</think>{"n": 3}`, `Opened by the template.</think>{"n":-1}`, `</think>{"n": 0}`, `<think>a < b, </thin k></think>{"n": 1}`]) assert.ok(dfaAccepts(dfa, text), text);
  for (const text of [`{"n": 3}`, `<think>x</think>{"n": "3"}`, `x</think>y</think>{"n": 3}`, `<think>x</think> {"n": 3}`]) assert.not.ok(dfaAccepts(dfa, text), text);
});

test("qwen3: reasoning up to </think>; with enable_thinking false the answer is all content and a constraint applies from its start", async () => {
  if (!qwen3.fake) return;
  const split = await whole(qwen3, "<think>Hmm.</think>Yes.");
  assert.equal([split.message.reasoning, split.message.content], ["Hmm.", "Yes."]);
  const cutOff = await whole(qwen3, "Thinking without end");
  assert.equal([cutOff.message.reasoning, cutOff.message.content], ["Thinking without end", null]);
  const off = { chat_template_kwargs: { enable_thinking: false } };
  for (const answer of ["Plain answer.", "<think>kept</think>as written"]) {
    const { message } = await whole(qwen3, answer, off);
    assert.is(message.content, answer);
    assert.is(message.reasoning, undefined);
    const stream = await streamed(qwen3, answer, off);
    assert.equal([stream.reasoning, stream.content], ["", answer]);
  }
  await whole(qwen3, `{"n": 1}`, { ...off, response_format: { type: "json_object" } });
  assert.equal(qwen3.fake.requests.at(-1)!.params.structuredOutputs, { jsonObject: true, whitespacePattern: undefined });
});

/** GPT-OSS's harmony answer: analysis, then a final message after a new header. */
const harmonyAnswer = "<|channel|>analysis<|message|>User says hi. Reply <kindly>.<|end|><|start|>assistant<|channel|>final<|message|>Hello <|there|>!";

test("openai_gptoss: the analysis channel is the reasoning, the final one the content; markers never leak, streamed or not", async () => {
  const { message } = await whole(gptOss, harmonyAnswer);
  assert.equal([message.reasoning, message.content], ["User says hi. Reply <kindly>.", "Hello <|there|>!"]);
  assert.is(gptOss.fake!.requests.at(-1)!.params.skipSpecialTokens, false, "the markers are special tokens: the answer's text keeps them");
  const stream = await streamed(gptOss, harmonyAnswer);
  assert.equal([stream.reasoning, stream.content], ["User says hi. Reply <kindly>.", "Hello <|there|>!"]);
  assert.not.ok(stream.contentBeforeReasoning);
  for (const part of [stream.reasoning, stream.content]) assert.not.match(part, /<\|(channel|message|end|start)\|>/);
  const thinking = await whole(gptOss, "<|channel|>analysis<|message|>Still thinking");
  assert.equal([thinking.message.reasoning, thinking.message.content], ["Still thinking", null]);
  const plain = await whole(gptOss, "No channels at all.");
  assert.equal([plain.message.reasoning, plain.message.content], ["", "No channels at all."]);
  const refused = await postJson(`${gptOss.baseURL}/chat/completions`, { ...scripted("x"), response_format: { type: "json_object" } });
  assert.equal([refused.status, refused.json.error.code, refused.json.error.param], [400, "unsupported_parameter", "response_format"]);
});

test("every split of a growing answer extends the one before and ends at the whole answer's", () => {
  const cases = [
    ...["<think>a</think>b", "<thin</think>", "</thi</think></think>x", "<<think>>", "a<</think", "</think>"].map((answer) => [reasoningParsers.deepseek_r1, answer] as const),
    ...[harmonyAnswer, "lead<|channel|>commentary<|message|>c<|end|><|start|>assistant<|channel|>analysis<|message|>a<|end|><|channel|>final<|message|>f<|return|>", "<|channel|>analysis<|message|><|<|end|"].map((answer) => [reasoningParsers.openai_gptoss, answer] as const),
  ];
  for (const [parser, answer] of cases) {
    const whole = splitReasoning(parser, answer, true);
    let known = 0;
    for (let i = 0; i <= answer.length; i++) {
      const split = splitReasoning(parser, answer.slice(0, i), false, known);
      assert.ok(whole.reasoning.startsWith(split.reasoning), `${answer} at ${i}: ${split.reasoning}`);
      assert.ok(split.content === null || (whole.content ?? "").startsWith(split.content), `${answer} at ${i}`);
      known = split.reasoning.length;
    }
  }
});

test("an unknown reasoning parser is refused, naming the known ones", async () => {
  assert.throws(() => reasoningParserNamed("nope"), /unknown reasoning parser 'nope'; this server has: deepseek_r1, qwen3, openai_gptoss/);
  try {
    await startTestServer({ server: { reasoningParser: "nope" } });
    assert.unreachable("expected an error");
  } catch (err) {
    assert.match((err as Error).message, /unknown reasoning parser 'nope'/);
  }
});

test.run();
