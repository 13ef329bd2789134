// Responses API input -> the chat machinery's shapes: input items become chat messages (as vLLM's
// construct_chat_message_with_tool_call does: a function_call is an assistant tool call, its
// function_call_output a tool message with the call's id), the flat function tools become chat
// tools, and tool_choice the chat spelling. The same reading turns a stored response's output
// items into the assistant turns a continuation (previous_response_id) replays.
import { ApiError } from "./errors.ts";
import type { ChatContentPart, ChatRequestMessage, FunctionTool } from "./schemas/chat.ts";
import type { ResponsesInputItem } from "./schemas/responses.ts";

const messageRoles = ["user", "system", "developer", "assistant"] as const;
/** Text parts: what a user sends, and what an earlier answer (sent back as input) holds. */
const textPartTypes = ["input_text", "output_text"];

function requiredString(item: ResponsesInputItem, field: string, param: string): string {
  const value = item[field];
  if (typeof value !== "string") throw new ApiError("missing_parameter", `Input items of type '${String(item.type)}' need a string '${field}'.`, `${param}.${field}`);
  return value;
}

/** `param` names the field: "input[2].content". */
function contentOf(content: unknown, param: string): string | ChatContentPart[] {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) throw new ApiError("invalid_parameter", "Content must be a string or a list of content parts.", param);
  return content.map((part: unknown, j) => {
    const { type, text } = (part ?? {}) as { type?: unknown; text?: unknown };
    if (typeof type !== "string" || !textPartTypes.includes(type)) {
      throw new ApiError("unsupported_parameter", `Content parts of type '${String(type)}' are not supported; only 'input_text' and 'output_text' parts are.`, `${param}[${j}].type`);
    }
    if (typeof text !== "string") throw new ApiError("missing_parameter", "A text content part needs a string 'text'.", `${param}[${j}].text`);
    return { type: "text", text };
  });
}

function messageOf(item: ResponsesInputItem, param: string): ChatRequestMessage {
  const role = item.role as (typeof messageRoles)[number];
  if (!messageRoles.includes(role)) throw new ApiError("invalid_parameter", `A message's role must be one of ${messageRoles.join(", ")}.`, `${param}.role`);
  return { role, content: contentOf(item.content, `${param}.content`) };
}

/** A tool's output is text, or text parts (joined). */
function outputOf(item: ResponsesInputItem, param: string): string {
  if (Array.isArray(item.output)) {
    const parts = contentOf(item.output, `${param}.output`) as ChatContentPart[];
    return parts.map((p) => p.text).join("");
  }
  return requiredString(item, "output", param);
}

/**
 * Appends the items to `messages` as chat messages. Calls right after an assistant message (or
 * another call) join its tool_calls, so a turn that said something and called tools is one
 * assistant message, as chat templates expect. Reasoning items are left out, as vLLM leaves a
 * previous answer's reasoning out.
 */
export function appendInputItems(messages: ChatRequestMessage[], items: readonly ResponsesInputItem[], paramBase = "input"): void {
  let turn: ChatRequestMessage | null = null;
  items.forEach((item, i) => {
    const param = `${paramBase}[${i}]`;
    const type = item.type ?? "message";
    if (type === "message") {
      const message = messageOf(item, param);
      messages.push(message);
      turn = message.role === "assistant" ? message : null;
    } else if (type === "function_call") {
      const call = { id: requiredString(item, "call_id", param), type: "function" as const, function: { name: requiredString(item, "name", param), arguments: requiredString(item, "arguments", param) } };
      if (turn === null) {
        turn = { role: "assistant", content: null, tool_calls: [] };
        messages.push(turn);
      }
      (turn.tool_calls ??= []).push(call);
    } else if (type === "function_call_output") {
      messages.push({ role: "tool", content: outputOf(item, param), tool_call_id: requiredString(item, "call_id", param) });
      turn = null;
    } else if (type !== "reasoning") {
      throw new ApiError("unsupported_parameter", `Input items of type '${String(type)}' are not supported; use messages, function_call, function_call_output and reasoning items.`, `${param}.type`);
    }
  });
}

/** The request's input as chat messages: a string is one user message. */
export function inputMessages(input: string | readonly ResponsesInputItem[]): ChatRequestMessage[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  const messages: ChatRequestMessage[] = [];
  appendInputItems(messages, input);
  return messages;
}

/** Responses' flat function tools ({type, name, parameters}) as chat tools; other tool types are refused. */
export function chatTools(tools: readonly Record<string, unknown>[]): FunctionTool[] {
  return tools.map((tool, i) => {
    if (tool.type !== "function") {
      throw new ApiError("unsupported_parameter", `Tools of type '${String(tool.type)}' are not supported by this server; only 'function' tools are.`, `tools[${i}].type`);
    }
    if (typeof tool.name !== "string" || tool.name === "") throw new ApiError("missing_parameter", "A function tool needs a 'name'.", `tools[${i}].name`);
    const parameters = (tool.parameters ?? undefined) as Record<string, unknown> | undefined;
    const description = typeof tool.description === "string" ? { description: tool.description } : {};
    return { type: "function", function: { name: tool.name, ...description, ...(parameters === undefined ? {} : { parameters }) } };
  });
}

/**
 * tool_choice in the chat spelling. The Responses default is "auto", which with no tools means no
 * tool calling at all (so a server without a tool-call parser still answers plain requests).
 */
export function chatToolChoice(choice: string | Record<string, unknown> | null | undefined, numTools: number): string | Record<string, unknown> {
  const resolved = choice ?? "auto";
  if (typeof resolved === "string") return resolved === "auto" && numTools === 0 ? "none" : resolved;
  if (resolved.type !== "function" || typeof resolved.name !== "string") {
    throw new ApiError("invalid_parameter", "A named tool_choice must be {\"type\": \"function\", \"name\": ...}.", "tool_choice");
  }
  return { type: "function", function: { name: resolved.name } };
}
