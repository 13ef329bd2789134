// Qwen3-Coder's XML tool calls, as vLLM's qwen3_coder parser reads them:
//   <tool_call><function=NAME><parameter=KEY>VALUE</parameter>...</function></tool_call>
// Values are text; each is converted by the type its parameter has in the request's tool schema
// (vLLM's _convert_param_value): strings stay text, integers and numbers become numbers, booleans
// true/false, objects and arrays JSON (or a Python literal), "null" null for any type; a value that
// does not convert, or a parameter the schema lacks, stays text.
import { parsePythonCalls } from "./python-literal.ts";
import type { FunctionTool } from "./schemas/chat.ts";
import type { ParsedToolCall } from "./tool-parsers.ts";

export const qwen3CoderTags = { toolCall: "<tool_call>", function: "<function=" } as const;

// The patterns are vLLM's; `(?=\n?$)` is Python's `$` without MULTILINE (the end, or before a final
// newline), which a cut-off answer's last call or parameter runs to.
const toolCallBlock = /<tool_call>([\s\S]*?)<\/tool_call>|<tool_call>([\s\S]*?)(?=\n?$)/g;
const functionBlock = /<function=([\s\S]*?)<\/function>|<function=([\s\S]*)$/g;
const parameterBlock = /<parameter=([\s\S]*?)(?:<\/parameter>|(?=<parameter=)|(?=<\/function>)|(?=\n?$))/g;

const stringTypes = new Set(["string", "str", "text", "varchar", "char", "enum"]);
const pythonInt = /^[+-]?\d+(?:_\d+)*$/;
const pythonFloat = /^[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?$/;

/** The tool's parameter schemas by name: its "properties", or the parameters themselves where there are none. */
function parameterSchemas(name: string, tools: readonly FunctionTool[]): Record<string, unknown> {
  const parameters = tools.find((t) => t.function.name === name)?.function.parameters;
  if (parameters === undefined) return {};
  const properties = parameters.properties;
  return typeof properties === "object" && properties !== null ? (properties as Record<string, unknown>) : parameters;
}

/** Python's ast.literal_eval of a value, read as the single argument of a pythonic call; undefined where it is no literal. */
function pythonLiteral(text: string): unknown {
  const calls = parsePythonCalls(`[f(value=[${text}])]`);
  const value = calls?.length === 1 && Object.keys(calls[0].arguments).length === 1 ? calls[0].arguments.value : undefined;
  return Array.isArray(value) && value.length === 1 ? value[0] : undefined;
}

/** A number as Python's int() or float() reads it (spaces around, "_" between digits); undefined for anything else, infinities too. */
function pythonNumber(text: string, syntax: RegExp): number | undefined {
  const trimmed = text.trim();
  const value = syntax.test(trimmed) ? Number(trimmed.replaceAll("_", "")) : NaN;
  return Number.isFinite(value) ? value : undefined;
}

function jsonValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function converted(value: string, schema: unknown): unknown {
  if (value.toLowerCase() === "null") return null;
  if (schema === undefined) return value;
  const declared = typeof schema === "object" && schema !== null && "type" in schema ? (schema as { type: unknown }).type : "string";
  // A list of types is no one type; Python's str() of it matches none of the names below, nor does its JSON.
  const type = (typeof declared === "string" ? declared : JSON.stringify(declared)).trim().toLowerCase();
  if (stringTypes.has(type)) return value;
  if (["int", "uint", "long", "short", "unsigned"].some((p) => type.startsWith(p))) return pythonNumber(value, pythonInt) ?? value;
  if (type.startsWith("num") || type.startsWith("float")) return pythonNumber(value, pythonFloat) ?? value;
  if (["boolean", "bool", "binary"].includes(type)) return value.toLowerCase() === "true";
  const structured = ["object", "array", "arr"].includes(type) || type.startsWith("dict") || type.startsWith("list");
  return (structured ? jsonValue(value) : undefined) ?? pythonLiteral(value) ?? value;
}

/** One <function=...> block's call; null where its name or a parameter's has no closing ">". */
function callOf(block: string, tools: readonly FunctionTool[]): ParsedToolCall | null {
  const nameEnd = block.indexOf(">");
  if (nameEnd < 0) return null;
  const name = block.slice(0, nameEnd);
  const schemas = parameterSchemas(name, tools);
  const entries: [string, unknown][] = [];
  for (const [, parameter] of block.slice(nameEnd + 1).matchAll(parameterBlock)) {
    const keyEnd = parameter.indexOf(">");
    if (keyEnd < 0) return null;
    const key = parameter.slice(0, keyEnd);
    const value = parameter.slice(keyEnd + 1).replace(/^\n/, "").replace(/\n$/, "");
    entries.push([key, converted(value, Object.hasOwn(schemas, key) ? schemas[key] : undefined)]);
  }
  return { name, arguments: JSON.stringify(Object.fromEntries(entries)) };
}

/**
 * The text before the calls and the calls: every <function=...> block inside the <tool_call>
 * blocks (a last one left open too), or in the whole answer where it has none; null when there is
 * none or one is malformed.
 */
export function qwen3CoderCalls(text: string, tools: readonly FunctionTool[]): { content: string; calls: ParsedToolCall[] } | null {
  if (!text.includes(qwen3CoderTags.function)) return null;
  const toolCalls = [...text.matchAll(toolCallBlock)].map((m) => m[1] ?? m[2]);
  const blocks = (toolCalls.length > 0 ? toolCalls : [text]).flatMap((t) => [...t.matchAll(functionBlock)].map((m) => m[1] ?? m[2]));
  if (blocks.length === 0) return null;
  const calls = blocks.map((b) => callOf(b, tools));
  if (!calls.every((c) => c !== null)) return null;
  const start = text.indexOf(qwen3CoderTags.toolCall);
  return { content: text.slice(0, start >= 0 ? start : text.indexOf(qwen3CoderTags.function)), calls: calls as ParsedToolCall[] };
}
