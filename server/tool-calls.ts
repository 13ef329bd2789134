// Tool calling as vLLM does it without a model-specific tool-call parser: tool_choice naming a
// function constrains the answer (structured outputs) to that function's parameters, and
// "required" to a JSON list of {name, parameters} over the request's tools; the answer then
// carries them as tool_calls. "auto" needs a parser of the model's own tool-call syntax, which this
// server does not have, so it is a 400, as in vLLM without --enable-auto-tool-choice (as are tools
// sent without tool_choice, which vLLM reads as "auto").
import { randomUUID } from "node:crypto";
import type { StructuredOutputsParams } from "../runtime/engine/types.ts";
import { ApiError } from "./errors.ts";
import type { ChatRequest, FunctionTool } from "./schemas/chat.ts";

export type ToolChoiceMode = { kind: "none" } | { kind: "named"; name: string } | { kind: "required" };

export interface ToolCalling {
  mode: ToolChoiceMode;
  /** The constraint on the answer; null for "none". */
  constraint: StructuredOutputsParams | null;
}

export interface ToolCallJson {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A function without parameters takes an empty object. */
const noParameters = { type: "object", properties: {}, additionalProperties: false };

const autoUnsupported =
  "\"auto\" tool choice needs a parser of the model's tool-call syntax (vLLM's --enable-auto-tool-choice and --tool-call-parser), which this server does not have; use tool_choice \"required\", a named function, or \"none\".";

function namedTool(choice: Record<string, unknown>, tools: readonly FunctionTool[]): string {
  const name = (choice.function as { name?: unknown } | undefined)?.name;
  if (choice.type !== "function" || typeof name !== "string") {
    throw new ApiError("invalid_parameter", "A named tool_choice must be {\"type\": \"function\", \"function\": {\"name\": ...}}.", "tool_choice");
  }
  if (!tools.some((t) => t.function.name === name)) throw new ApiError("invalid_parameter", `tool_choice names '${name}', which is not among the request's tools.`, "tool_choice");
  return name;
}

/**
 * "required": a non-empty list of calls (one, when parallel_tool_calls is false), each one of the
 * tools with its parameters. The tools' $defs move to the top, where their local references then
 * resolve.
 */
function requiredSchema(tools: readonly FunctionTool[], parallel: boolean): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  const calls = tools.map((t) => {
    const { $defs, definitions, ...parameters } = (t.function.parameters ?? noParameters) as Record<string, unknown>;
    for (const [name, def] of Object.entries({ ...(definitions as object | undefined), ...($defs as object | undefined) })) {
      if (name in defs && JSON.stringify(defs[name]) !== JSON.stringify(def)) {
        throw new ApiError("invalid_parameter", `Tools define '${name}' differently in their parameters' $defs.`, "tools");
      }
      defs[name] = def;
    }
    return { type: "object", properties: { name: { const: t.function.name }, parameters: parameters }, required: ["name", "parameters"] };
  });
  return { type: "array", minItems: 1, ...(parallel ? {} : { maxItems: 1 }), items: { anyOf: calls }, $defs: defs, definitions: defs };
}

export function toolCallingOf(body: ChatRequest): ToolCalling {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? (tools.length > 0 ? "auto" : "none");
  if (choice === "none") return { mode: { kind: "none" }, constraint: null };
  if (choice === "auto") throw new ApiError("unsupported_parameter", autoUnsupported, "tool_choice");
  if (tools.length === 0) throw new ApiError("invalid_parameter", "tool_choice other than \"none\" needs 'tools'.", "tool_choice");
  if (choice === "required") return { mode: { kind: "required" }, constraint: { json: requiredSchema(tools, body.parallel_tool_calls ?? true) } };
  if (typeof choice === "string") throw new ApiError("invalid_parameter", `tool_choice must be "none", "auto", "required" or a named function, got '${choice}'.`, "tool_choice");
  const name = namedTool(choice, tools);
  const tool = tools.find((t) => t.function.name === name)!;
  return { mode: { kind: "named", name }, constraint: { json: tool.function.parameters ?? noParameters } };
}

export function newToolCallId(): string {
  return `chatcmpl-tool-${randomUUID().replaceAll("-", "")}`;
}

/**
 * The answer's tool calls: the named function with the text as its arguments, or the calls the
 * "required" list holds; null when the text is not a whole list (the answer was cut short).
 */
export function toolCallsOf(mode: ToolChoiceMode, text: string, ids: () => string = newToolCallId): ToolCallJson[] | null {
  if (mode.kind === "named") return [{ id: ids(), type: "function", function: { name: mode.name, arguments: text } }];
  if (mode.kind !== "required") return null;
  let calls: unknown;
  try {
    calls = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(calls)) return null;
  return calls.map((call: { name: string; parameters: unknown }) => ({ id: ids(), type: "function", function: { name: call.name, arguments: JSON.stringify(call.parameters) } }));
}
