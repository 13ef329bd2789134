// POST /v1/responses request body: the fields of vLLM's ResponsesRequest (OpenAI's Responses API
// plus vLLM's top_k, logit_bias, skip_special_tokens, priority and request_id). Input items are
// only shaped here; responses-input.ts reads each by its type and names the bad one.
import { maxLogprobs, nullable, samplingProperties } from "./common.ts";

const { model, temperature, top_p, top_k, logit_bias, skip_special_tokens, priority, request_id, user } = samplingProperties;

const textFormat = {
  type: "object",
  required: ["type"],
  properties: {
    type: { type: "string", enum: ["text", "json_object", "json_schema"] },
    name: { type: "string" },
    description: { type: "string" },
    schema: { type: "object" },
    strict: nullable({ type: "boolean" }),
  },
} as const;

/** The `include` values vLLM's ResponsesRequest accepts. */
export const includables = [
  "code_interpreter_call.outputs",
  "computer_call_output.output.image_url",
  "file_search_call.results",
  "message.input_image.image_url",
  "message.output_text.logprobs",
  "reasoning.encrypted_content",
] as const;

export const responsesRequestSchema = {
  type: "object",
  required: ["input"],
  properties: {
    model,
    temperature,
    top_p,
    top_k,
    logit_bias,
    skip_special_tokens,
    priority,
    request_id,
    user,
    input: {
      description: "a string or an array of input items",
      anyOf: [{ type: "string" }, { type: "array", items: { type: "object" } }],
    },
    instructions: nullable({ type: "string" }),
    max_output_tokens: nullable({ type: "integer", minimum: 1 }),
    max_tool_calls: nullable({ type: "integer", minimum: 0 }),
    tools: nullable({ type: "array", items: { type: "object", required: ["type"], properties: { type: { type: "string" } } } }),
    tool_choice: {
      description: "\"none\", \"auto\", \"required\" or {\"type\": \"function\", \"name\": ...}",
      anyOf: [{ type: "string" }, { type: "object" }, { type: "null" }],
    },
    parallel_tool_calls: nullable({ type: "boolean" }),
    text: nullable({ type: "object", properties: { format: nullable(textFormat) } }),
    stream: nullable({ type: "boolean" }),
    store: nullable({ type: "boolean" }),
    background: nullable({ type: "boolean" }),
    previous_response_id: nullable({ type: "string" }),
    metadata: nullable({ type: "object", additionalProperties: { type: "string" } }),
    reasoning: nullable({ type: "object" }),
    include: nullable({ type: "array", items: { type: "string", enum: includables } }),
    truncation: nullable({ type: "string", enum: ["auto", "disabled"] }),
    top_logprobs: nullable({ type: "integer", minimum: 0, maximum: maxLogprobs }),
    service_tier: nullable({ type: "string", enum: ["auto", "default", "flex", "scale", "priority"] }),
  },
} as const;

/** An input item as sent; responses-input.ts checks the fields its `type` needs. */
export type ResponsesInputItem = Record<string, unknown>;

export interface ResponsesTextFormat {
  type: "text" | "json_object" | "json_schema";
  name?: string;
  description?: string;
  schema?: Record<string, unknown>;
  strict?: boolean | null;
}

export interface ResponsesRequest {
  model?: string;
  input: string | ResponsesInputItem[];
  instructions?: string | null;
  max_output_tokens?: number | null;
  max_tool_calls?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  logit_bias?: Record<string, number> | null;
  skip_special_tokens?: boolean;
  priority?: number;
  /** vLLM uses it as the response's id. */
  request_id?: string;
  user?: string;
  tools?: Record<string, unknown>[] | null;
  tool_choice?: string | Record<string, unknown> | null;
  parallel_tool_calls?: boolean | null;
  text?: { format?: ResponsesTextFormat | null } | null;
  stream?: boolean | null;
  store?: boolean | null;
  background?: boolean | null;
  previous_response_id?: string | null;
  metadata?: Record<string, string> | null;
  reasoning?: Record<string, unknown> | null;
  include?: (typeof includables)[number][] | null;
  truncation?: "auto" | "disabled" | null;
  top_logprobs?: number | null;
  service_tier?: string | null;
  /** Read only to refuse them (prompt, conversation ...). */
  [unsupported: string]: unknown;
}
