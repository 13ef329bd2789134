// POST /v1/chat/completions request body.
import { reasoningEfforts, type ReasoningEffort } from "../reasoning-effort.ts";
import { nullable, samplingProperties, type SamplingFields } from "./common.ts";

const contentPart = {
  type: "object",
  required: ["type"],
  properties: { type: { type: "string" }, text: { type: "string" } },
} as const;

const message = {
  type: "object",
  required: ["role"],
  properties: {
    role: { type: "string", enum: ["system", "user", "assistant", "tool", "developer"] },
    content: {
      description: "a string, an array of content parts or null",
      anyOf: [{ type: "string" }, { type: "array", items: contentPart }, { type: "null" }],
    },
    name: { type: "string" },
    tool_calls: nullable({
      type: "array",
      items: {
        type: "object",
        required: ["function"],
        properties: {
          id: { type: "string" },
          type: { type: "string", enum: ["function"] },
          function: { type: "object", required: ["name", "arguments"], properties: { name: { type: "string" }, arguments: { type: "string" } } },
        },
      },
    }),
    tool_call_id: { type: "string" },
  },
} as const;

const tool = {
  type: "object",
  required: ["type", "function"],
  properties: {
    type: { type: "string", enum: ["function"] },
    function: {
      type: "object",
      required: ["name"],
      properties: { name: { type: "string", minLength: 1 }, description: { type: "string" }, parameters: { type: "object" }, strict: nullable({ type: "boolean" }) },
    },
  },
} as const;

export const chatRequestSchema = {
  type: "object",
  required: ["messages"],
  properties: {
    ...samplingProperties,
    messages: { type: "array", minItems: 1, items: message },
    max_completion_tokens: nullable({ type: "integer", minimum: 1 }),
    logprobs: nullable({ type: "boolean" }),
    top_logprobs: nullable({ type: "integer", minimum: 0 }),
    add_generation_prompt: { type: "boolean" },
    continue_final_message: { type: "boolean" },
    chat_template: nullable({ type: "string" }),
    chat_template_kwargs: nullable({ type: "object" }),
    reasoning_effort: nullable({ type: "string", enum: [...reasoningEfforts] }),
    tools: nullable({ type: "array", items: tool }),
    tool_choice: {
      description: "\"none\", \"auto\", \"required\" or a named tool",
      anyOf: [{ type: "string" }, { type: "object" }, { type: "null" }],
    },
    parallel_tool_calls: nullable({ type: "boolean" }),
    include_reasoning: { type: "boolean" },
  },
} as const;

export interface ChatContentPart {
  type: string;
  text?: string;
}

export interface ChatRequestToolCall {
  id?: string;
  type?: "function";
  function: { name: string; arguments: string };
}

export interface ChatRequestMessage {
  role: "system" | "user" | "assistant" | "tool" | "developer";
  content?: string | ChatContentPart[] | null;
  name?: string;
  tool_calls?: ChatRequestToolCall[] | null;
  tool_call_id?: string;
}

export interface FunctionTool {
  type: "function";
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
}

export interface ChatRequest extends SamplingFields {
  messages: ChatRequestMessage[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  add_generation_prompt?: boolean;
  continue_final_message?: boolean;
  chat_template?: string | null;
  chat_template_kwargs?: Record<string, unknown> | null;
  /** Forwarded to the chat template as vLLM does (server/reasoning-effort.ts). */
  reasoning_effort?: ReasoningEffort | null;
  tools?: FunctionTool[] | null;
  tool_choice?: string | Record<string, unknown> | null;
  parallel_tool_calls?: boolean | null;
  /** With a reasoning parser, false leaves the reasoning out of the answer (default true). */
  include_reasoning?: boolean;
}
