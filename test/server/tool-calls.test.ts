// tool_choice -> constraint and answer -> tool_calls: the "required" list's automaton accepts
// lists of calls to the request's tools (one at most without parallel calls) and refuses others;
// answers parse into OpenAI tool calls; invalid tool choices are 400s naming the field.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { constraintRegex } from "../../runtime/structured/constraint-regex.ts";
import { compileRegexDfa } from "../../runtime/structured/regex-dfa.ts";
import { ApiError } from "../../server/errors.ts";
import type { ChatRequest, FunctionTool } from "../../server/schemas/chat.ts";
import { toolCallingOf, toolCallsOf } from "../../server/tool-calls.ts";
import { dfaAccepts } from "../support/dfa-walk.ts";

const tools: FunctionTool[] = [
  { type: "function", function: { name: "move", parameters: { type: "object", properties: { to: { $ref: "#/$defs/point" } }, required: ["to"], $defs: { point: { type: "array", items: { type: "integer" }, minItems: 2, maxItems: 2 } } } } },
  { type: "function", function: { name: "stop" } },
];
const body = (extra: Partial<ChatRequest>): ChatRequest => ({ messages: [{ role: "user", content: "go" }], tools, ...extra });

function automatonOf(extra: Partial<ChatRequest>) {
  const { constraint } = toolCallingOf(body(extra));
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
  assert.equal(toolCallsOf({ kind: "named", name: "move" }, `{"to": [1, 2]}`, ids), [{ id: "id0", type: "function", function: { name: "move", arguments: `{"to": [1, 2]}` } }]);
  assert.equal(toolCallsOf({ kind: "required" }, `[{"name": "stop", "parameters": {}}, {"name": "move", "parameters": {"to": [1, 2]}}]`, ids), [
    { id: "id1", type: "function", function: { name: "stop", arguments: "{}" } },
    { id: "id2", type: "function", function: { name: "move", arguments: `{"to":[1,2]}` } },
  ]);
  assert.is(toolCallsOf({ kind: "required" }, `[{"name": "stop", "param`), null);
  assert.is(toolCallsOf({ kind: "none" }, `{}`), null);
});

test("tool choices that cannot be honoured are 400s naming tool_choice or tools", () => {
  const cases: [Partial<ChatRequest>, string, RegExp][] = [
    [{ tool_choice: "auto" }, "tool_choice", /--enable-auto-tool-choice/],
    [{}, "tool_choice", /--enable-auto-tool-choice/],
    [{ tools: [], tool_choice: "required" }, "tool_choice", /needs 'tools'/],
    [{ tool_choice: { type: "function", function: { name: "fly" } } }, "tool_choice", /'fly', which is not among/],
    [{ tool_choice: { type: "function" } }, "tool_choice", /named tool_choice must be/],
    [{ tool_choice: "sometimes" }, "tool_choice", /got 'sometimes'/],
    [{ tools: [...tools, { type: "function", function: { name: "other", parameters: { $defs: { point: { type: "string" } } } } }], tool_choice: "required" }, "tools", /define 'point' differently/],
  ];
  for (const [extra, param, message] of cases) {
    try {
      toolCallingOf(body(extra));
      assert.unreachable(JSON.stringify(extra));
    } catch (err) {
      assert.instance(err, ApiError);
      assert.is((err as ApiError).param, param);
      assert.match((err as ApiError).message, message);
    }
  }
  assert.equal(toolCallingOf(body({ tool_choice: "none" })), { mode: { kind: "none" }, constraint: null });
});

test.run();
