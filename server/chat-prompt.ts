// Chat messages -> prompt text (through the model's chat template, or the request's) -> token
// ids. The template already writes BOS where the model wants it, so special tokens are not added
// again (vLLM's add_special_tokens=false default for chat); a BOS the template left out but the
// tokenizer wants is added once (encodeChatPrompt). An explicit add_special_tokens is obeyed.
import { TsvllmError } from "../runtime/errors.ts";
import { encodeChatPrompt } from "../runtime/tokenizer/chat-template.ts";
import type { ChatMessage, Tokenizer } from "../runtime/tokenizer/types.ts";
import { ApiError, toApiError } from "./errors.ts";
import type { PreparedPrompt } from "./prompts.ts";
import { chatTemplateKwargs, type TemplateKwargsRequest } from "./reasoning-effort.ts";
import type { ChatRequestMessage, FunctionTool } from "./schemas/chat.ts";

export interface ChatPromptRequest extends TemplateKwargsRequest {
  messages: ChatRequestMessage[];
  add_generation_prompt?: boolean;
  continue_final_message?: boolean;
  chat_template?: string | null;
  add_special_tokens?: boolean;
  tools?: FunctionTool[] | null;
}

function messageText(message: ChatRequestMessage, index: number): string {
  const content = message.content;
  if (content == null) return "";
  if (typeof content === "string") return content;
  return content
    .map((part, j) => {
      if (part.type !== "text" || typeof part.text !== "string") {
        throw new ApiError("unsupported_parameter", `Content parts of type '${part.type}' are not supported; only 'text' parts are.`, `messages[${index}].content[${j}]`);
      }
      return part.text;
    })
    .join("\n");
}

/** Arguments as templates expect them (vLLM does the same): parsed, when they are JSON. */
function templateArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function chatMessages(messages: readonly ChatRequestMessage[]): ChatMessage[] {
  return messages.map((m, i) => ({
    role: m.role,
    content: messageText(m, i),
    ...(m.name !== undefined ? { name: m.name } : {}),
    ...(m.tool_call_id !== undefined ? { tool_call_id: m.tool_call_id } : {}),
    ...(m.tool_calls != null
      ? { tool_calls: m.tool_calls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.function.name, arguments: templateArguments(c.function.arguments) } })) }
      : {}),
  }));
}

/** add_generation_prompt defaults to true, except when the final message is being continued. */
export function addsGenerationPrompt(request: ChatPromptRequest): boolean {
  const continueFinal = request.continue_final_message ?? false;
  const add = request.add_generation_prompt ?? !continueFinal;
  if (add && continueFinal) {
    throw new ApiError("invalid_parameter", "'continue_final_message' and 'add_generation_prompt' cannot both be true.", "continue_final_message");
  }
  return add;
}

export function chatPrompt(request: ChatPromptRequest, tokenizer: Tokenizer): PreparedPrompt {
  const messages = chatMessages(request.messages);
  let text: string;
  try {
    text = tokenizer.applyChatTemplate(messages, {
      addGenerationPrompt: addsGenerationPrompt(request),
      continueFinalMessage: request.continue_final_message ?? false,
      chatTemplate: request.chat_template ?? undefined,
      chatTemplateKwargs: chatTemplateKwargs(request),
      tools: request.tools ?? undefined,
    });
  } catch (err) {
    if (err instanceof ApiError || err instanceof TsvllmError) throw toApiError(err);
    const reason = err instanceof Error ? err.message : String(err);
    const param = request.chat_template != null ? "chat_template" : "messages";
    throw new ApiError("invalid_parameter", `Applying the chat template failed: ${reason}`, param);
  }
  const tokenIds = request.add_special_tokens === undefined
    ? encodeChatPrompt(tokenizer, text)
    : tokenizer.encode(text, { addSpecialTokens: request.add_special_tokens });
  return { text, tokenIds };
}
