// A tokenizer whose chat template is replaced (`tsvllm serve --chat-template`): requests that bring
// their own chat_template still win, as in vLLM.
import type { Tokenizer } from "./types.ts";

export function withChatTemplate(tokenizer: Tokenizer, template: string): Tokenizer {
  const wrapped: Tokenizer = Object.create(tokenizer);
  wrapped.applyChatTemplate = (messages, options = {}) => tokenizer.applyChatTemplate(messages, { ...options, chatTemplate: options.chatTemplate ?? template });
  return wrapped;
}
