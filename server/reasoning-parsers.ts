// Parsers of a reasoning model's thinking (vLLM's --reasoning-parser). deepseek_r1 and qwen3 read
// models that write their reasoning first and close it with </think>; the chat template may
// already have opened it with <think> in the prompt, so a leading <think> in the answer is dropped
// and an answer without </think> (cut off while thinking) is all reasoning, as in vLLM. qwen3 also
// reads the request's chat_template_kwargs.enable_thinking: false makes its template close the
// thinking in the prompt, so the answer is all content.
// openai_gptoss reads GPT-OSS's harmony format (OpenAI 2025): the answer is messages, each a header
// `<|channel|>NAME<|message|>` (after a `<|start|>assistant` from the second on) and a body up to
// `<|end|>`, `<|return|>` or `<|call|>`, all special tokens, so its requests keep special tokens
// in the text. The analysis channel's bodies are the reasoning; every other channel's (final,
// commentary) and any text before the first header are the content.
import type { ReasoningConfig } from "../runtime/engine/config.ts";
import { TsvllmError } from "../runtime/errors.ts";
import { partialTagLength } from "./partial-tag.ts";
import { chatTemplateKwargs } from "./reasoning-effort.ts";
import type { ChatRequest } from "./schemas/chat.ts";

export interface ReasoningParser {
  readonly name: string;
  /** Whether chat_template_kwargs.enable_thinking false turns the reasoning off. */
  readonly followsEnableThinking: boolean;
  /** How the answer marks its reasoning: <think> tags, or harmony's channels. */
  readonly format: "think" | "harmony";
}

export const reasoningParsers: Readonly<Record<string, ReasoningParser>> = {
  deepseek_r1: { name: "deepseek_r1", followsEnableThinking: false, format: "think" },
  qwen3: { name: "qwen3", followsEnableThinking: true, format: "think" },
  openai_gptoss: { name: "openai_gptoss", followsEnableThinking: false, format: "harmony" },
};

const thinkStart = "<think>";
export const thinkEnd = "</think>";

const harmony = { channel: "<|channel|>", message: "<|message|>", start: "<|start|>", ends: ["<|end|>", "<|return|>", "<|call|>"] };

/** The reasoning section a parser reads, as the engine's reasoning config (what thinking_token_budget counts within). */
export function parsedReasoningConfig(parser: ReasoningParser): ReasoningConfig {
  return parser.format === "harmony" ? { thinkStartStr: `${harmony.channel}analysis${harmony.message}`, thinkEndStr: harmony.ends[0] } : { thinkStartStr: thinkStart, thinkEndStr: thinkEnd };
}

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
 * The answer so far as reasoning and content, as the parser reads it. Until the answer is `final`,
 * an end that may be the start of a tag is held back, so each split's parts only ever grow and the
 * last one is the whole answer's. `knownReasoning`, the reasoning's length in an earlier split of
 * the same answer, is text no </think> starts in: a stream's splits need not search it again.
 */
export function splitReasoning(parser: ReasoningParser, text: string, final: boolean, knownReasoning = 0): ReasoningSplit {
  return parser.format === "harmony" ? splitHarmony(text, final) : splitThinking(text, final, knownReasoning);
}

function splitThinking(text: string, final: boolean, knownReasoning: number): ReasoningSplit {
  if (!final && thinkStart.startsWith(text)) return { reasoning: "", content: null };
  const start = text.startsWith(thinkStart) ? thinkStart.length : 0;
  const end = text.indexOf(thinkEnd, start + knownReasoning);
  if (end >= 0) return { reasoning: text.slice(start, end), content: text.slice(end + thinkEnd.length) };
  const held = final ? 0 : partialTagLength(text.slice(start), thinkEnd);
  return { reasoning: text.slice(start, text.length - held), content: null };
}

/**
 * Harmony's messages: the analysis channel's bodies as reasoning, the other bodies (and text before
 * the first header) as content; null content until some appears. A header still open, and a body's
 * end that may be the start of a marker, wait for more text.
 */
function splitHarmony(whole: string, final: boolean): ReasoningSplit {
  const markers = [harmony.channel, harmony.message, harmony.start, ...harmony.ends];
  const text = final ? whole : whole.slice(0, whole.length - Math.max(...markers.map((m) => partialTagLength(whole, m))));
  const first = text.indexOf(harmony.channel);
  const lead = text.slice(0, first < 0 ? text.length : first);
  let content: string | null = lead === "" ? null : lead;
  let reasoning = "";
  for (let at = first; at >= 0; at = text.indexOf(harmony.channel, at + harmony.channel.length)) {
    const body = text.indexOf(harmony.message, at);
    if (body < 0) break;
    const from = body + harmony.message.length;
    const ends = [...harmony.ends, harmony.start, harmony.channel].map((m) => text.indexOf(m, from)).filter((i) => i >= 0);
    const part = text.slice(from, ends.length > 0 ? Math.min(...ends) : text.length);
    if (text.slice(at + harmony.channel.length, body).trim() === "analysis") reasoning += part;
    else content = (content ?? "") + part;
  }
  return { reasoning, content };
}
