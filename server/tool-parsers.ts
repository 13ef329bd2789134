// Parsers of a model's own tool-call syntax, for tool_choice "auto" (vLLM's --tool-call-parser).
// Each reads a whole answer; while it streams, `contentEnd` says how much of it may go out as
// content, and the calls come whole at the end. An answer whose calls do not parse is content.
// - hermes: Hermes 2 Pro and later, and Qwen2.5: <tool_call>{"name", "arguments"}</tool_call>
//   blocks after any text; a last call cut off before its closing tag still counts, as in vLLM.
// - mistral: Mistral 7B Instruct v0.3 style, text then [TOOL_CALLS] and a JSON list of
//   {"name", "arguments"}.
// - llama3_json: Llama 3.1/3.2/4 JSON calls, an answer that is {"name", "parameters"} objects
//   (or "arguments") separated by ";", optionally after <|python_tag|>.
// - pythonic: Llama 3.2/4 pythonic calls, an answer that is a Python list of calls.
import { randomInt } from "node:crypto";
import { partialTagLength } from "./partial-tag.ts";
import { parsePythonCalls } from "./python-literal.ts";

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
}

/** A call object's name and its arguments (under the first of `argumentsKeys` it has; none is {}); null for anything else. */
function callOf(value: unknown, ...argumentsKeys: string[]): ParsedToolCall | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const call = value as Record<string, unknown>;
  if (typeof call.name !== "string") return null;
  const key = argumentsKeys.find((k) => k in call);
  return { name: call.name, arguments: JSON.stringify((key === undefined ? null : call[key]) ?? {}) };
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

const mistralTag = "[TOOL_CALLS]";
const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const mistral: ToolCallParser = {
  name: "mistral",
  extract(text) {
    const start = text.indexOf(mistralTag);
    if (start < 0) return null;
    // As vLLM: every tag goes, and a list with text after it is read from "[{" to the last "}]".
    const body = text.slice(start).replaceAll(mistralTag, "").trim();
    const list = parseJson(body) ?? parseJson(body.slice(body.indexOf("[{"), body.lastIndexOf("}]") + 2));
    if (!Array.isArray(list) || list.length === 0) return null;
    const calls = list.map((item) => callOf(item, "arguments"));
    return calls.every((c) => c !== null) ? { content: text.slice(0, start), calls: calls as ParsedToolCall[] } : null;
  },
  contentEnd: beforeTag(mistralTag),
  // Mistral's templates refuse tool call ids other than 9 letters and digits.
  callId: () => Array.from({ length: 9 }, () => alphanumeric[randomInt(alphanumeric.length)]).join(""),
};

const pythonTag = "<|python_tag|>";

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

export const toolCallParsers: Readonly<Record<string, ToolCallParser>> = { hermes, mistral, llama3_json: llama3Json, pythonic };
