// Parsers of a reasoning model's thinking (vLLM's --reasoning-parser). Both models write their
// reasoning first and close it with </think>; the chat template may already have opened it with
// <think> in the prompt, so a leading <think> in the answer is dropped and an answer without
// </think> (cut off while thinking) is all reasoning, as in vLLM. qwen3 also reads the request's
// chat_template_kwargs.enable_thinking: false makes its template close the thinking in the prompt,
// so the answer is all content.
import type { ReasoningConfig } from "../runtime/engine/config.ts";
import { TsvllmError } from "../runtime/errors.ts";
import { partialTagLength } from "./partial-tag.ts";
import { chatTemplateKwargs } from "./reasoning-effort.ts";
import type { ChatRequest } from "./schemas/chat.ts";

export interface ReasoningParser {
  readonly name: string;
  /** Whether chat_template_kwargs.enable_thinking false turns the reasoning off. */
  readonly followsEnableThinking: boolean;
}

export const reasoningParsers: Readonly<Record<string, ReasoningParser>> = {
  deepseek_r1: { name: "deepseek_r1", followsEnableThinking: false },
  qwen3: { name: "qwen3", followsEnableThinking: true },
};

const thinkStart = "<think>";
export const thinkEnd = "</think>";

/** The reasoning section both parsers read, as the engine's reasoning config (what thinking_token_budget counts within). */
export const parsedReasoningConfig: ReasoningConfig = { thinkStartStr: thinkStart, thinkEndStr: thinkEnd };

export function reasoningParserNamed(name: string): ReasoningParser {
  const parser = reasoningParsers[name];
  if (parser === undefined) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `unknown reasoning parser '${name}'; this server has: ${Object.keys(reasoningParsers).join(", ")}`, "reasoning-parser");
  return parser;
}

/** The parser that splits this request's answer: null without one or with thinking turned off. */
export function reasoningParserFor(parser: ReasoningParser | null, body: Pick<ChatRequest, "chat_template_kwargs" | "reasoning_effort">): ReasoningParser | null {
  if (parser?.followsEnableThinking && chatTemplateKwargs(body)?.enable_thinking === false) return null;
  return parser;
}

export interface ReasoningSplit {
  reasoning: string;
  /** What follows </think>; null while the reasoning has not ended. */
  content: string | null;
}

/**
 * The answer so far as reasoning and content. Until the answer is `final`, the end of the reasoning
 * is held back while it may be the start of a tag, so each split's parts only ever grow and the
 * last one is the whole answer's. `knownReasoning`, the reasoning's length in an earlier split of
 * the same answer, is text no tag starts in: a stream's splits need not search it again.
 */
export function splitReasoning(text: string, final: boolean, knownReasoning = 0): ReasoningSplit {
  if (!final && thinkStart.startsWith(text)) return { reasoning: "", content: null };
  const start = text.startsWith(thinkStart) ? thinkStart.length : 0;
  const end = text.indexOf(thinkEnd, start + knownReasoning);
  if (end >= 0) return { reasoning: text.slice(start, end), content: text.slice(end + thinkEnd.length) };
  const held = final ? 0 : partialTagLength(text.slice(start), thinkEnd);
  return { reasoning: text.slice(start, text.length - held), content: null };
}
