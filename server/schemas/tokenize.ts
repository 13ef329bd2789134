// POST /tokenize and /detokenize request bodies (vLLM's shapes).
import { chatRequestSchema, type ChatRequestMessage } from "./chat.ts";
import { tokenIdList } from "./common.ts";

const chatProperties = chatRequestSchema.properties;

export const tokenizeRequestSchema = {
  type: "object",
  properties: {
    model: { type: "string" },
    prompt: { type: "string" },
    messages: chatProperties.messages,
    add_special_tokens: { type: "boolean" },
    add_generation_prompt: { type: "boolean" },
    continue_final_message: { type: "boolean" },
    chat_template: chatProperties.chat_template,
    chat_template_kwargs: chatProperties.chat_template_kwargs,
    return_token_strs: { type: "boolean" },
  },
} as const;

export interface TokenizeRequest {
  model?: string;
  prompt?: string;
  messages?: ChatRequestMessage[];
  add_special_tokens?: boolean;
  add_generation_prompt?: boolean;
  continue_final_message?: boolean;
  chat_template?: string | null;
  chat_template_kwargs?: Record<string, unknown> | null;
  return_token_strs?: boolean;
}

export const detokenizeRequestSchema = {
  type: "object",
  required: ["tokens"],
  properties: { model: { type: "string" }, tokens: tokenIdList },
} as const;

export interface DetokenizeRequest {
  model?: string;
  tokens: number[];
}
