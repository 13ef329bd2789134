// tool_choice -> constraint and answer -> tool_calls: the "required" list's automaton accepts
// lists of calls to the request's tools (one at most without parallel calls) and refuses others;
// answers parse into OpenAI tool calls; invalid tool choices are 400s naming the field.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { constraintRegex } from "../../runtime/structured/constraint-regex.ts";
import { compileRegexDfa } from "../../runtime/structured/regex-dfa.ts";
import { ApiError } from "../../server/errors.ts";
import type { ChatRequest, FunctionTool } from "../../server/schemas/chat.ts";
import { toolAnswerOf, toolCallingOf } from "../../server/tool-calls.ts";
import { toolCallParsers } from "../../server/tool-parsers.ts";
import { dfaAccepts } from "../support/dfa-walk.ts";

const tools: FunctionTool[] = [
  { type: "function", function: { name: "move", parameters: { type: "object", properties: { to: { $ref: "#/$defs/point" } }, required: ["to"], $defs: { point: { type: "array", items: { type: "integer" }, minItems: 2, maxItems: 2 } } } } },
  { type: "function", function: { name: "stop" } },
];
const body = (extra: Partial<ChatRequest>): ChatRequest => ({ messages: [{ role: "user", content: "go" }], tools, ...extra });

function automatonOf(extra: Partial<ChatRequest>) {
  const { constraint } = toolCallingOf(body(extra), null);
  const { source, param } = constraintRegex(constraint!);
  return compileRegexDfa(source, param);
}

test("\"required\" accepts lists of calls to the tools, with their parameters ($defs moved to the top)", () => {
  const dfa = automatonOf({ tool_choice: "required" });
  assert.ok(dfaAccepts(dfa, `[{"name": "move", "parameters": {"to": [1, 2]}}]`));
  assert.ok(dfaAccepts(dfa, `[{"name": "stop", "parameters": {}}, {"name": "move", "parameters": {"to": [3, -4]}}]`));
  for (const text of [`[]`, `[{"name": "jump", "parameters": {}}]`, `[{"name": "move", "parameters": {"to": [1]}}]`, `[{"name": "stop", "parameters": {"x": 1}}]`, `{"name": "stop", "parameters": {}}`]) {
    assert.not.ok(dfaAccepts(dfa, text), text);
  }
  const single = automatonOf({ tool_choice: "required", parallel_tool_calls: false });
  assert.ok(dfaAccepts(single, `[{"name": "stop", "parameters": {}}]`));
  assert.not.ok(dfaAccepts(single, `[{"name": "stop", "parameters": {}}, {"name": "stop", "parameters": {}}]`));
});

test("a named function constrains the answer to its parameters", () => {
  const dfa = automatonOf({ tool_choice: { type: "function", function: { name: "move" } } });
  assert.ok(dfaAccepts(dfa, `{"to": [5, 6]}`));
  assert.not.ok(dfaAccepts(dfa, `[{"name": "move", "parameters": {"to": [5, 6]}}]`));
});

test("answers become tool calls; a list cut short stays content", () => {
  let n = 0;
  const ids = () => `id${n++}`;
  assert.equal(toolAnswerOf({ kind: "named", name: "move" }, `{"to": [1, 2]}`, ids), { content: "", toolCalls: [{ id: "id0", type: "function", function: { name: "move", arguments: `{"to": [1, 2]}` } }] });
  assert.equal(toolAnswerOf({ kind: "required" }, `[{"name": "stop", "parameters": {}}, {"name": "move", "parameters": {"to": [1, 2]}}]`, ids)?.toolCalls, [
    { id: "id1", type: "function", function: { name: "stop", arguments: "{}" } },
    { id: "id2", type: "function", function: { name: "move", arguments: `{"to":[1,2]}` } },
  ]);
  assert.is(toolAnswerOf({ kind: "required" }, `[{"name": "stop", "param`), null);
  assert.is(toolAnswerOf({ kind: "none" }, `{}`), null);
});

test("the hermes parser reads <tool_call> blocks after the content, a last one left open too", () => {
  const hermes = toolCallParsers.hermes;
  const text = `Let me check.\n<tool_call>\n{"name": "move", "arguments": {"to": [1, 2]}}\n</tool_call>\n<tool_call>{"name": "stop", "arguments": {}}`;
  assert.equal(hermes.extract(text), { content: "Let me check.\n", calls: [{ name: "move", arguments: `{"to":[1,2]}` }, { name: "stop", arguments: "{}" }] });
  assert.equal(hermes.extract(`<tool_call>{"name": "stop"}</tool_call>`), { content: "", calls: [{ name: "stop", arguments: "{}" }] });
  assert.is(hermes.extract("No tools needed."), null);
  assert.is(hermes.extract(`<tool_call>{"name": "move", "argu`), null);
  assert.is(hermes.extract(`<tool_call>{"arguments": {}}</tool_call>`), null);
  let n = 0;
  const auto = toolAnswerOf({ kind: "auto", parser: hermes }, text, () => `id${n++}`);
  assert.equal(auto?.toolCalls.map((c) => c.function.name), ["move", "stop"]);
  assert.is(auto?.content, "Let me check.\n");
});

test("tool choices that cannot be honoured are 400s naming tool_choice or tools", () => {
  const cases: [Partial<ChatRequest>, string, RegExp][] = [
    [{ tool_choice: "auto" }, "tool_choice", /--enable-auto-tool-choice/],
    [{ tools: [], tool_choice: { type: "function", function: { name: "move" } } }, "tool_choice", /needs 'tools'/],
    [{}, "tool_choice", /--enable-auto-tool-choice/],
    [{ tools: [], tool_choice: "required" }, "tool_choice", /needs 'tools'/],
    [{ tool_choice: { type: "function", function: { name: "fly" } } }, "tool_choice", /'fly', which is not among/],
    [{ tool_choice: { type: "function" } }, "tool_choice", /named tool_choice must be/],
    [{ tool_choice: "sometimes" }, "tool_choice", /got 'sometimes'/],
    [{ tools: [...tools, { type: "function", function: { name: "other", parameters: { $defs: { point: { type: "string" } } } } }], tool_choice: "required" }, "tools", /define 'point' differently/],
  ];
  for (const [extra, param, message] of cases) {
    try {
      toolCallingOf(body(extra), null);
      assert.unreachable(JSON.stringify(extra));
    } catch (err) {
      assert.instance(err, ApiError);
      assert.is((err as ApiError).param, param);
      assert.match((err as ApiError).message, message);
    }
  }
  assert.equal(toolCallingOf(body({ tool_choice: "none" }), null), { mode: { kind: "none" }, constraint: null });
  assert.equal(toolCallingOf(body({}), toolCallParsers.hermes), { mode: { kind: "auto", parser: toolCallParsers.hermes }, constraint: null });
});

test.run();
