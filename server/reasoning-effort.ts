// reasoning_effort on chat requests, as vLLM forwards it: the chat template sees it as the
// `reasoning_effort` variable and sees `enable_thinking` true for any effort but "none" (false),
// so templates that gate thinking on enable_thinking (Qwen3, Gemma) follow it too; the request's
// own chat_template_kwargs win over both.

/** vLLM's ChatCompletionRequest.reasoning_effort values. */
export const reasoningEfforts = ["none", "minimal", "low", "medium", "high", "xhigh", "max"] as const;
export type ReasoningEffort = (typeof reasoningEfforts)[number];

export interface TemplateKwargsRequest {
  chat_template_kwargs?: Record<string, unknown> | null;
  reasoning_effort?: ReasoningEffort | null;
}

/** The variables the chat template gets beyond the messages; undefined when the request sets none. */
export function chatTemplateKwargs(request: TemplateKwargsRequest): Record<string, unknown> | undefined {
  const effort = request.reasoning_effort;
  if (effort == null) return request.chat_template_kwargs ?? undefined;
  return { reasoning_effort: effort, enable_thinking: effort !== "none", ...request.chat_template_kwargs };
}
