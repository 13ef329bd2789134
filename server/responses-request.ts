// A /v1/responses request's fields in the chat machinery's terms: the sampling fields vLLM's
// ResponsesRequest.to_sampling_params reads (temperature, top_p, top_k, logit_bias,
// skip_special_tokens, text.format as structured outputs), what it refuses, and the request fields
// the Response object echoes, when a request may run in the background, and reasoning.effort.
import type { SamplingParams } from "../runtime/engine/types.ts";
import { ApiError } from "./errors.ts";
import { reasoningEfforts, type ReasoningEffort } from "./reasoning-effort.ts";
import type { SamplingFields } from "./schemas/common.ts";
import type { ResponsesRequest, ResponsesTextFormat } from "./schemas/responses.ts";

/** Fields vLLM refuses (or this server cannot honour), each with why. */
const refusals: [field: string, refused: (body: ResponsesRequest) => boolean, message: string][] = [
  // vLLM's ResponsesRequest.validate_prompt.
  ["prompt", (b) => b.prompt != null, "Prompt templates ('prompt') are not supported."],
  ["conversation", (b) => b.conversation != null, "'conversation' is not supported; continue a stored response with 'previous_response_id'."],
  // vLLM: "enable_response_messages is currently only supported for gpt-oss".
  ["enable_response_messages", (b) => b.enable_response_messages === true, "'enable_response_messages' is only supported for gpt-oss models."],
];

export function rejectUnsupportedResponseFields(body: ResponsesRequest): void {
  for (const [field, refused, message] of refusals) if (refused(body)) throw new ApiError("unsupported_parameter", message, field);
}

/** vLLM keeps a background response in its store, so background needs one and `store` left on; its messages. */
export function checkBackground(body: ResponsesRequest, storeEnabled: boolean): void {
  if (body.background !== true) return;
  if (body.store === false) throw new ApiError("invalid_parameter", "background can only be used when `store` is true", "background");
  if (!storeEnabled) {
    throw new ApiError(
      "unsupported_parameter",
      "This vLLM engine does not support `store=True` and therefore does not support the background mode. " +
        "To enable these features, set the environment variable `VLLM_ENABLE_RESPONSES_API_STORE=1` when launching the vLLM server.",
      "background",
    );
  }
}

/** reasoning.effort, which reaches the chat template as chat's reasoning_effort does; null when unset. */
export function reasoningEffortOf(body: ResponsesRequest): ReasoningEffort | null {
  const effort = body.reasoning?.effort;
  if (effort == null) return null;
  if (!(reasoningEfforts as readonly unknown[]).includes(effort)) throw new ApiError("invalid_parameter", `reasoning.effort must be one of ${reasoningEfforts.join(", ")}, got ${JSON.stringify(effort)}`, "reasoning.effort");
  return effort as ReasoningEffort;
}

/** top_logprobs (default 0: the chosen tokens alone) when include asks for the output's log-probs, else null, as vLLM's to_sampling_params. */
export function outputTopLogprobs(body: ResponsesRequest): number | null {
  return body.include?.includes("message.output_text.logprobs") ? (body.top_logprobs ?? 0) : null;
}

/** text.format as chat's response_format, which structured-outputs.ts reads. */
function responseFormatOf(format: ResponsesTextFormat | null | undefined): SamplingFields["response_format"] {
  if (format == null || format.type === "text") return null;
  if (format.type === "json_object") return { type: "json_object" };
  if (format.schema === undefined) throw new ApiError("missing_parameter", "text.format of type 'json_schema' needs a 'schema'.", "text.format.schema");
  return { type: "json_schema", json_schema: { name: format.name, schema: format.schema, strict: format.strict } };
}

export function samplingFieldsOf(body: ResponsesRequest): SamplingFields {
  return {
    temperature: body.temperature,
    top_p: body.top_p,
    top_k: body.top_k,
    logit_bias: body.logit_bias,
    skip_special_tokens: body.skip_special_tokens,
    response_format: responseFormatOf(body.text?.format),
  };
}

/** The request fields a Response echoes, with the sampling values actually used (as vLLM's from_request). */
export function echoedFields(body: ResponsesRequest, params: SamplingParams, model: string): Record<string, unknown> {
  return {
    instructions: body.instructions ?? null,
    max_output_tokens: params.maxTokens,
    max_tool_calls: body.max_tool_calls ?? null,
    metadata: body.metadata ?? null,
    model,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: body.reasoning ?? null,
    service_tier: body.service_tier ?? "auto",
    temperature: params.temperature,
    text: body.text ?? { format: { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_logprobs: body.top_logprobs ?? null,
    top_p: params.topP,
    truncation: body.truncation ?? "disabled",
    user: body.user ?? null,
  };
}
