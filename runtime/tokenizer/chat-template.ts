// Chat templates: the model's Jinja template (tokenizer_config.json chat_template, chat_template.jinja
// or GGUF tokenizer.chat_template) rendered with @huggingface/jinja, with the variables transformers
// passes: messages, tools, add_generation_prompt, bos_token, eos_token, plus any kwargs (@huggingface/jinja
// itself provides raise_exception and strftime_now).
import { Template } from "@huggingface/jinja";
import { TsvllmError } from "../errors.ts";
import type { ChatMessage, ChatTemplateOptions, Tokenizer } from "./types.ts";

/**
 * Used when a model ships no template (base models have no chat format of their own): BOS, then one
 * "role: content" line per message, then "assistant:" when a reply is wanted.
 */
export const defaultChatTemplate =
  "{{ bos_token }}{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}";

export interface ChatTemplateContext {
  template: string | null;
  bosToken: string;
  eosToken: string;
}

const compiled = new Map<string, Template>();

// A template given with the request is the caller's mistake when it does not parse; the model's own
// template failing to parse is a broken tokenizer.
function compile(source: string, fromRequest: boolean): Template {
  let template = compiled.get(source);
  if (!template) {
    try {
      template = new Template(source);
    } catch (error) {
      const code = fromRequest ? "TSVLLM_ERR_INVALID_ARGUMENT" : "TSVLLM_ERR_TOKENIZER";
      throw new TsvllmError(code, `chat template does not parse: ${(error as Error).message}`, "chat_template");
    }
    compiled.set(source, template);
  }
  return template;
}

export function renderChatTemplate(
  context: ChatTemplateContext,
  messages: readonly ChatMessage[],
  options: ChatTemplateOptions = {},
): string {
  const template = compile(options.chatTemplate ?? context.template ?? defaultChatTemplate, options.chatTemplate !== undefined);
  const continueFinal = options.continueFinalMessage ?? false;
  if (continueFinal && options.addGenerationPrompt) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "continue_final_message and add_generation_prompt cannot both be true", "continue_final_message");
  }
  let rendered: string;
  try {
    rendered = template.render({
      ...options.chatTemplateKwargs,
      messages,
      ...(options.tools !== undefined ? { tools: options.tools } : {}),
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: context.bosToken,
      eos_token: context.eosToken,
    });
  } catch (error) {
    // Templates reject messages they cannot format with raise_exception ("roles must alternate"),
    // which @huggingface/jinja throws as a plain Error: a render failure is about the request.
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `chat template rejected the messages: ${(error as Error).message}`, "messages");
  }
  return continueFinal ? cutAfterFinalMessage(rendered, messages) : rendered;
}

// As transformers does: keep the text up to the end of the last message's content, so the model
// continues that message instead of closing it.
function cutAfterFinalMessage(rendered: string, messages: readonly ChatMessage[]): string {
  const final = messages.at(-1)?.content.trim() ?? "";
  const at = final ? rendered.lastIndexOf(final) : -1;
  if (at === -1) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "continue_final_message: the final message does not appear in the rendered template", "messages");
  }
  return rendered.slice(0, at + final.length);
}

/**
 * Whether a rendered chat prompt needs a BOS token in front. Templates usually write BOS themselves;
 * adding it again would give a double BOS, so it is added only when the tokenizer wants one and the
 * prompt does not already start with its text.
 */
export function chatPromptNeedsBos(tokenizer: Tokenizer, prompt: string): boolean {
  if (!tokenizer.addBosToken || tokenizer.bosTokenId === null) return false;
  return !prompt.startsWith(tokenizer.tokenText(tokenizer.bosTokenId));
}

/**
 * The token ids of a rendered chat prompt: its text without added special tokens (the template wrote
 * the ones it wants; no EOS is appended), preceded by BOS when chatPromptNeedsBos says so.
 */
export function encodeChatPrompt(tokenizer: Tokenizer, prompt: string): number[] {
  const ids = tokenizer.encode(prompt, { addSpecialTokens: false });
  return chatPromptNeedsBos(tokenizer, prompt) ? [tokenizer.bosTokenId!, ...ids] : ids;
}
