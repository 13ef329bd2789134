// Parsers of a model's own tool-call syntax, for tool_choice "auto" (vLLM's --tool-call-parser).
// Each reads a whole answer; while it streams, `contentEnd` says how much of it may go out as
// content, and each call goes out as it is generated, read by the parser's streaming reader
// (tool-call-stream.ts, auto-tool-stream.ts). An answer whose calls do not parse is content.
// - hermes: Hermes 2 Pro and later, and Qwen2.5: <tool_call>{"name", "arguments"}</tool_call>
//   blocks after any text; a last call cut off before its closing tag still counts, as in vLLM.
// - mistral: Mistral 7B Instruct v0.3 style, text then [TOOL_CALLS] and a JSON list of
//   {"name", "arguments"}.
// - llama3_json: Llama 3.1/3.2/4 JSON calls, an answer that is {"name", "parameters"} objects
//   (or "arguments") separated by ";", optionally after <|python_tag|>.
// - pythonic: Llama 3.2/4 pythonic calls, an answer that is a Python list of calls.
// - granite: IBM Granite 3.x, an answer that is a JSON list of {"name", "arguments"}, optionally
//   after <|tool_call|> (3.0's token) and <tool_call> (3.1's text).
// - phi4_mini_json: Phi-4-mini, functools[ and a JSON list of {"name", "arguments"/"parameters"}.
// - qwen3_coder: Qwen3-Coder's XML calls, parameters typed by the request's tool schemas (see
//   qwen3-coder-calls.ts).
// - deepseek_v3: DeepSeek-V3 and R1, special tokens around calls of a name and a ```json block.
// - internlm: InternLM 2/2.5, one JSON call between <|action_start|><|plugin|> and <|action_end|>.
import { randomInt } from "node:crypto";
import { partialTagLength } from "./partial-tag.ts";
import { parsePythonCalls } from "./python-literal.ts";
import { qwen3CoderCalls, qwen3CoderTags } from "./qwen3-coder-calls.ts";
import type { FunctionTool } from "./schemas/chat.ts";

export interface ParsedToolCall {
  name: string;
  /** The arguments as JSON text. */
  arguments: string;
}

export interface ToolCallParser {
  readonly name: string;
  /** The text before the calls and the calls; null when the text holds no call that parses. */
  extract(text: string): { content: string; calls: ParsedToolCall[] } | null;
  /** How much of an unfinished answer may stream as content: never where calls may begin. */
  contentEnd(text: string): number;
  /** Ids for the calls where the model's template asks for its own kind. */
  readonly callId?: () => string;
  /** The parser for one request whose tools shape what it reads (vLLM makes a parser per request; qwen3_coder types parameters by them). */
  readonly forTools?: (tools: readonly FunctionTool[]) => ToolCallParser;
}

/** A call object's name and its arguments (under the first of `argumentsKeys` it has; none is {}); null for anything else. */
function callOf(value: unknown, ...argumentsKeys: string[]): ParsedToolCall | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const call = value as Record<string, unknown>;
  if (typeof call.name !== "string") return null;
  const key = argumentsKeys.find((k) => k in call);
  return { name: call.name, arguments: JSON.stringify((key === undefined ? null : call[key]) ?? {}) };
}

/** A call object that names its arguments under one of `argumentsKeys`: parsers that read them by key, as vLLM's granite and phi4_mini_json do, find nothing else a call. */
function callWith(value: unknown, ...argumentsKeys: string[]): ParsedToolCall | null {
  const hasArguments = typeof value === "object" && value !== null && argumentsKeys.some((k) => k in value);
  return hasArguments ? callOf(value, ...argumentsKeys) : null;
}

/** The calls of a non-empty list of call objects; null where the list is empty or an item is not a call. */
function callsOf(list: unknown, read: (item: unknown) => ParsedToolCall | null): ParsedToolCall[] | null {
  if (!Array.isArray(list) || list.length === 0) return null;
  const calls = list.map(read);
  return calls.every((c) => c !== null) ? (calls as ParsedToolCall[]) : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Content streams up to the tag where calls begin (and never a possible start of it). */
function beforeTag(tag: string): (text: string) => number {
  return (text) => {
    const start = text.indexOf(tag);
    return start >= 0 ? start : text.length - partialTagLength(text, tag);
  };
}

/** For answers that are calls from their first character: nothing streams while the start may begin calls. */
function unlessStartsWith(...starts: string[]): (text: string) => number {
  return (text) => (starts.some((s) => s.startsWith(text.slice(0, s.length))) ? 0 : text.length);
}

const hermes: ToolCallParser = {
  name: "hermes",
  extract(text) {
    const start = text.indexOf("<tool_call>");
    if (start < 0) return null;
    const calls: ParsedToolCall[] = [];
    for (const match of text.matchAll(/<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g)) {
      const call = callOf(parseJson(match[1]), "arguments");
      if (call === null) return null;
      calls.push(call);
    }
    return { content: text.slice(0, start), calls };
  },
  contentEnd: beforeTag("<tool_call>"),
};

export const mistralTag = "[TOOL_CALLS]";
const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const mistral: ToolCallParser = {
  name: "mistral",
  extract(text) {
    const start = text.indexOf(mistralTag);
    if (start < 0) return null;
    // As vLLM: every tag goes, and a list with text after it is read from "[{" to the last "}]".
    const body = text.slice(start).replaceAll(mistralTag, "").trim();
    const list = parseJson(body) ?? parseJson(body.slice(body.indexOf("[{"), body.lastIndexOf("}]") + 2));
    const calls = callsOf(list, (item) => callOf(item, "arguments"));
    return calls === null ? null : { content: text.slice(0, start), calls };
  },
  contentEnd: beforeTag(mistralTag),
  // Mistral's templates refuse tool call ids other than 9 letters and digits.
  callId: () => Array.from({ length: 9 }, () => alphanumeric[randomInt(alphanumeric.length)]).join(""),
};

export const pythonTag = "<|python_tag|>";

/** Where the JSON object starting at `start` ends (just past its "}"), or -1 where it does not close. */
function objectEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{" || char === "[") depth++;
    else if ((char === "}" || char === "]") && --depth === 0) return i + 1;
  }
  return -1;
}

const llama3Json: ToolCallParser = {
  name: "llama3_json",
  extract(text) {
    let pos = text.startsWith(pythonTag) ? pythonTag.length : 0;
    if (text[pos] !== "{") return null;
    const calls: ParsedToolCall[] = [];
    for (;;) {
      const end = objectEnd(text, pos);
      const call = end < 0 ? null : callOf(parseJson(text.slice(pos, end)), "arguments", "parameters");
      if (call === null) return null;
      calls.push(call);
      const rest = text.slice(end);
      const separator = /^\s*;\s*(?=\{)/.exec(rest);
      if (separator === null) return rest.trim() === "" ? { content: "", calls } : null;
      pos = end + separator[0].length;
    }
  },
  contentEnd: unlessStartsWith(pythonTag, "{"),
};

const pythonic: ToolCallParser = {
  name: "pythonic",
  extract(text) {
    if (!text.startsWith("[")) return null;
    const calls = parsePythonCalls(text);
    return calls === null ? null : { content: "", calls: calls.map((c) => ({ name: c.name, arguments: JSON.stringify(c.arguments) })) };
  },
  contentEnd: unlessStartsWith("["),
};

const graniteTags = ["<|tool_call|>", "<tool_call>"];

/** A Granite answer past its spaces and tags, stripped in vLLM's order: the token, then the text tag, then spaces. */
export function afterGraniteTags(text: string): string {
  let rest = text.trim();
  for (const tag of graniteTags) if (rest.startsWith(tag)) rest = rest.slice(tag.length);
  return rest.trimStart();
}

const granite: ToolCallParser = {
  name: "granite",
  extract(text) {
    const rest = afterGraniteTags(text);
    const calls = rest.startsWith("[") ? callsOf(parseJson(rest), (item) => callWith(item, "arguments")) : null;
    return calls === null ? null : { content: "", calls };
  },
  contentEnd(text) {
    const rest = afterGraniteTags(text);
    const mayBeCalls = rest === "" || rest.startsWith("[") || graniteTags.some((tag) => tag.startsWith(rest));
    return mayBeCalls ? 0 : text.length;
  },
};

export const functoolsTag = "functools[";

const phi4MiniJson: ToolCallParser = {
  name: "phi4_mini_json",
  extract(text) {
    const start = text.indexOf(functoolsTag);
    if (start < 0) return null;
    // vLLM's pattern ends the list at its first "]", where a list inside the arguments fails; the
    // list is read to its own "]" here, which reads every answer vLLM reads the same way. vLLM also
    // drops the text before the calls, which streaming has sent by then, so it stays content.
    const listStart = start + functoolsTag.length - 1;
    const listEnd = objectEnd(text, listStart);
    const calls = listEnd < 0 ? null : callsOf(parseJson(text.slice(listStart, listEnd)), (item) => callWith(item, "arguments", "parameters"));
    return calls === null ? null : { content: text.slice(0, start), calls };
  },
  contentEnd: beforeTag(functoolsTag),
};

const qwen3CoderFor = (tools: readonly FunctionTool[]): ToolCallParser => ({
  name: "qwen3_coder",
  extract: (text) => qwen3CoderCalls(text, tools),
  contentEnd: (text) => Math.min(beforeTag(qwen3CoderTags.toolCall)(text), beforeTag(qwen3CoderTags.function)(text)),
  forTools: qwen3CoderFor,
});

export const deepseekCallsBegin = "<｜tool▁calls▁begin｜>";
export const deepseekCallBegin = "<｜tool▁call▁begin｜>";
// vLLM's pattern, each part within one line (Python's "." stops only at "\n").
const deepseekCall = /<｜tool▁call▁begin｜>([^\n]*)<｜tool▁sep｜>([^\n]*)\n```json\n([^\n]*)\n```<｜tool▁call▁end｜>/g;

const deepseekV3: ToolCallParser = {
  name: "deepseek_v3",
  extract(text) {
    const start = text.indexOf(deepseekCallsBegin);
    if (start < 0) return null;
    const matches = [...text.matchAll(deepseekCall)];
    // vLLM skips a call its pattern misses and keeps the arguments as written; here such a call, or
    // arguments that are not JSON, make the answer content.
    const wellFormed = matches.length === text.split(deepseekCallBegin).length - 1 && matches.every((m) => m[1] === "function" && parseJson(m[3]) !== undefined);
    return matches.length > 0 && wellFormed ? { content: text.slice(0, start), calls: matches.map((m) => ({ name: m[2], arguments: m[3] })) } : null;
  },
  contentEnd: beforeTag(deepseekCallsBegin),
};

export const internlmTag = "<|action_start|><|plugin|>";

const internlm: ToolCallParser = {
  name: "internlm",
  extract(text) {
    const parts = text.split(internlmTag);
    // One call per answer: vLLM's split fails on a second.
    if (parts.length !== 2) return null;
    const action = parts[1].split("<|action_end|>")[0];
    const call = callOf(parseJson(action.slice(action.indexOf("{"))), "parameters", "arguments");
    return call === null ? null : { content: parts[0], calls: [call] };
  },
  contentEnd: beforeTag(internlmTag),
};

export const toolCallParsers: Readonly<Record<string, ToolCallParser>> = {
  hermes,
  mistral,
  llama3_json: llama3Json,
  pythonic,
  granite,
  phi4_mini_json: phi4MiniJson,
  qwen3_coder: qwen3CoderFor([]),
  deepseek_v3: deepseekV3,
  internlm,
};
