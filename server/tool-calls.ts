// Tool calling as vLLM does it. tool_choice naming a function constrains the answer (structured
// outputs) to that function's parameters, and "required" to a JSON list of {name, parameters}
// over the request's tools; the answer then carries them as tool_calls. "auto" (also tools sent
// without tool_choice) lets the model answer freely and reads calls out of its own syntax with the
// server's tool-call parser (--enable-auto-tool-choice --tool-call-parser); without one it is a
// 400, as in vLLM.
import { randomUUID } from "node:crypto";
import type { SamplingParams, StructuredOutputsParams } from "../runtime/engine/types.ts";
import { ApiError } from "./errors.ts";
import type { ChatRequest, FunctionTool } from "./schemas/chat.ts";
import type { ToolCallParser } from "./tool-parsers.ts";

export type ToolChoiceMode = { kind: "none" } | { kind: "named"; name: string } | { kind: "required" } | { kind: "auto"; parser: ToolCallParser };

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
  "\"auto\" tool choice needs the server started with --enable-auto-tool-choice and --tool-call-parser; otherwise use tool_choice \"required\", a named function, or \"none\".";

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

/** `parser`: the server's tool-call parser for "auto", or null when auto tool choice is off. */
export function toolCallingOf(body: Pick<ChatRequest, "tools" | "tool_choice" | "parallel_tool_calls">, parser: ToolCallParser | null): ToolCalling {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? (tools.length > 0 ? "auto" : "none");
  if (choice === "none") return { mode: { kind: "none" }, constraint: null };
  if (choice === "auto") {
    if (parser === null) throw new ApiError("unsupported_parameter", autoUnsupported, "tool_choice");
    return { mode: { kind: "auto", parser: parser.forTools?.(tools) ?? parser }, constraint: null };
  }
  if (tools.length === 0) throw new ApiError("invalid_parameter", "tool_choice other than \"none\" needs 'tools'.", "tool_choice");
  if (choice === "required") return { mode: { kind: "required" }, constraint: { json: requiredSchema(tools, body.parallel_tool_calls ?? true) } };
  if (typeof choice === "string") throw new ApiError("invalid_parameter", `tool_choice must be "none", "auto", "required" or a named function, got '${choice}'.`, "tool_choice");
  const name = namedTool(choice, tools);
  const tool = tools.find((t) => t.function.name === name)!;
  return { mode: { kind: "named", name }, constraint: { json: tool.function.parameters ?? noParameters } };
}

/** The sampling params a tool choice asks for: its constraint, which no other may join, or the special tokens an auto answer's parser reads. */
export function withToolConstraint(base: SamplingParams, tools: ToolCalling, useBeamSearch: boolean): SamplingParams {
  // The parser reads the model's own call syntax, whose tags may be special tokens (vLLM's hermes
  // parser keeps them too).
  if (tools.mode.kind === "auto") return { ...base, skipSpecialTokens: false };
  if (tools.constraint === null) return base;
  if (base.structuredOutputs !== null) throw new ApiError("invalid_parameter", "A tool_choice that calls tools cannot be combined with response_format or structured outputs.", "tool_choice");
  if (useBeamSearch) throw new ApiError("invalid_parameter", "A tool_choice that calls tools cannot be combined with use_beam_search.", "tool_choice");
  return { ...base, structuredOutputs: tools.constraint };
}

export function newToolCallId(): string {
  return `chatcmpl-tool-${randomUUID().replaceAll("-", "")}`;
}

/** An answer made of tool calls, and the content beside them ("" for named and required choices). */
export interface ToolAnswer {
  content: string;
  toolCalls: ToolCallJson[];
}

function callJson(name: string, args: string, ids: () => string): ToolCallJson {
  return { id: ids(), type: "function", function: { name, arguments: args } };
}

/**
 * The answer's tool calls: the named function with the text as its arguments, the calls the
 * "required" list holds, or those the parser finds in an "auto" answer; null when the answer is
 * plain content (tool choice "none", an auto answer without calls, a list cut short).
 */
export function toolAnswerOf(mode: ToolChoiceMode, text: string, ids: () => string = newToolCallId): ToolAnswer | null {
  switch (mode.kind) {
    case "none":
      return null;
    case "named":
      return { content: "", toolCalls: [callJson(mode.name, text, ids)] };
    case "auto": {
      const found = mode.parser.extract(text);
      const callIds = mode.parser.callId ?? ids;
      return found === null ? null : { content: found.content, toolCalls: found.calls.map((c) => callJson(c.name, c.arguments, callIds)) };
    }
    case "required": {
      let calls: unknown;
      try {
        calls = JSON.parse(text);
      } catch {
        return null;
      }
      if (!Array.isArray(calls)) return null;
      return { content: "", toolCalls: calls.map((call: { name: string; parameters: unknown }) => callJson(call.name, JSON.stringify(call.parameters), ids)) };
    }
  }
}
