// /v1/responses response bodies. An answer's text becomes output items: its reasoning (with a
// reasoning parser, as vLLM's `reasoning` item with a reasoning_text part), its content (a
// `message` with one output_text part) and its tool calls (`function_call` items), read with the
// chat machinery's parsers. While an answer streams, the same reading holds back what may still
// change, so every item's text only grows and the last reading is the whole answer's; "auto" calls
// stream as they are generated (auto-tool-stream.ts), their arguments as the model wrote them. A
// message keeps where its text starts in the answer, so that its output_text part can carry the
// log-probs of the tokens that wrote it (output-logprobs.ts).
import type { CompletionOutput } from "../../runtime/engine/types.ts";
import type { AutoToolCalls } from "../auto-tool-stream.ts";
import { newResponseId } from "../generation.ts";
import type { ChatLogprob } from "../logprobs.ts";
import { splitReasoning, type ReasoningParser } from "../reasoning-parsers.ts";
import { toolAnswerOf, type ToolChoiceMode } from "../tool-calls.ts";
import { messageLogprobs, type OutputLogprobsFormat, type TextSpan } from "./output-logprobs.ts";

export interface ResponsesFormat {
  id: string;
  createdAt: number;
  promptTokens: number;
  /** The parser that reads the answer's reasoning; null without one. */
  reasoning: ReasoningParser | null;
  toolChoice: ToolChoiceMode;
  /** Whether the response runs in the background (`background: true`). */
  background: boolean;
  /** With include "message.output_text.logprobs", how the message's log-probs are written; null otherwise. */
  logprobs: OutputLogprobsFormat | null;
  /** The request's fields a Response object echoes (model, instructions, tools, ...). */
  echo: Record<string, unknown>;
}

export type OutputDraft =
  | { type: "reasoning"; text: string }
  /** `start`: where the message's text begins in the answer's text. */
  | { type: "message"; text: string; start: number }
  | { type: "function_call"; name: string; arguments: string };

/** The text of a draft that streams: reasoning and message text, or a call's arguments. */
export function draftText(draft: OutputDraft): string {
  return draft.type === "function_call" ? draft.arguments : draft.text;
}

/**
 * The answer so far as output items. Until `final`, a possible start of a tag and any text where
 * tool calls may begin are held back, and "required" calls wait for the end (as chat streams
 * them); a named tool choice's arguments stream as they come, and so do "auto" calls read by a
 * stream's `autoCalls`. `knownReasoning` is the reasoning's length in an earlier reading of the
 * same answer (see splitReasoning).
 */
export function outputDrafts(f: ResponsesFormat, text: string, final: boolean, knownReasoning = 0, autoCalls: AutoToolCalls | null = null): OutputDraft[] {
  const drafts: OutputDraft[] = [];
  let content = text;
  if (f.reasoning !== null) {
    const split = splitReasoning(f.reasoning, text, final, knownReasoning);
    if (split.reasoning !== "") drafts.push({ type: "reasoning", text: split.reasoning });
    if (split.content === null) return drafts;
    content = split.content;
  }
  // The content is what follows the reasoning: the end of the text.
  const contentStart = text.length - content.length;
  const message = (end: number): OutputDraft => ({ type: "message", text: content.slice(0, end), start: contentStart });
  const mode = f.toolChoice;
  if (mode.kind === "named") return [...drafts, { type: "function_call", name: mode.name, arguments: content }];
  if (autoCalls !== null) {
    const reading = autoCalls.read(content, final);
    if (reading.contentEnd > 0) drafts.push(message(reading.contentEnd));
    return [...drafts, ...reading.calls.map((call): OutputDraft => ({ type: "function_call", name: call.name, arguments: call.argumentsSoFar }))];
  }
  if (!final) {
    const end = mode.kind === "auto" ? mode.parser.contentEnd(content) : mode.kind === "required" ? 0 : content.length;
    return end > 0 ? [...drafts, message(end)] : drafts;
  }
  const tools = toolAnswerOf(mode, content, () => "");
  if (tools === null) return content === "" ? drafts : [...drafts, message(content.length)];
  // A parser's content is the text before the calls, possibly trimmed.
  if (tools.content !== "") drafts.push({ type: "message", text: tools.content, start: contentStart + Math.max(0, content.indexOf(tools.content)) });
  for (const call of tools.toolCalls) drafts.push({ type: "function_call", name: call.function.name, arguments: call.function.arguments });
  return drafts;
}

/** Ids of output items, kept per position so a stream's items keep theirs to the end. */
export class OutputIds {
  private readonly ids: { id: string; callId: string }[] = [];
  constructor(private readonly toolChoice: ToolChoiceMode) {}

  of(index: number, draft: OutputDraft): { id: string; callId: string } {
    const prefix = draft.type === "reasoning" ? "rs" : draft.type === "message" ? "msg" : "fc";
    this.ids[index] ??= { id: newResponseId(prefix, "_"), callId: draft.type === "function_call" ? this.newCallId() : "" };
    return this.ids[index];
  }

  private newCallId(): string {
    // Mistral's templates want their own 9-character call ids.
    const parserIds = this.toolChoice.kind === "auto" ? this.toolChoice.parser.callId : undefined;
    return parserIds ? parserIds() : newResponseId("call", "_");
  }
}

/** Where a message's text lies in the answer's text. */
export function messageSpan(draft: Extract<OutputDraft, { type: "message" }>): TextSpan {
  return { start: draft.start, end: draft.start + draft.text.length };
}

export type ItemStatus = "in_progress" | "completed" | "incomplete";

/**
 * One output item as the Responses API shows it; `text` stands in for the draft's own while it
 * streams, and a message's text part carries `logprobs` (empty unless the request included them).
 */
export function itemJson(
  draft: OutputDraft,
  ids: { id: string; callId: string },
  status: ItemStatus,
  text = draftText(draft),
  logprobs: readonly ChatLogprob[] = [],
): Record<string, unknown> {
  switch (draft.type) {
    case "reasoning":
      return { id: ids.id, type: "reasoning", summary: [], content: status === "in_progress" ? [] : [reasoningPart(text)], status };
    case "message":
      return { id: ids.id, type: "message", role: "assistant", status, content: status === "in_progress" ? [] : [textPart(text, logprobs)] };
    case "function_call":
      return { id: ids.id, type: "function_call", call_id: ids.callId, name: draft.name, arguments: text, status };
  }
}

export function textPart(text: string, logprobs: readonly ChatLogprob[] = []) {
  return { type: "output_text", text, annotations: [], logprobs };
}

export function reasoningPart(text: string) {
  return { type: "reasoning_text", text };
}

/** An answer cut off by max_output_tokens is "incomplete", as OpenAI reports it. */
export function responseStatus(output: CompletionOutput): "completed" | "incomplete" {
  return output.finishReason === "length" ? "incomplete" : "completed";
}

/** As vLLM's Responses usage, cached_tokens is the prefix-cache hit whether or not --enable-prompt-tokens-details is on. */
export function usageJson(inputTokens: number, outputTokens: number, cachedTokens: number) {
  return {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: cachedTokens },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + outputTokens,
  };
}

/** The Response object: its status ("queued": a background response not yet running), output items and usage, and the request fields it echoes. */
export function responseJson(f: ResponsesFormat, status: "queued" | "in_progress" | "completed" | "incomplete", output: object[], usage: object | null): Record<string, unknown> {
  return {
    id: f.id,
    object: "response",
    created_at: f.createdAt,
    status,
    background: f.background,
    error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    ...f.echo,
    output,
    usage,
  };
}

/** The whole answer's Response object; a stream passes the items it read, whose calls' arguments are as they streamed. */
export function finalResponse(
  f: ResponsesFormat,
  output: CompletionOutput,
  cachedTokens: number,
  ids: OutputIds = new OutputIds(f.toolChoice),
  drafts: OutputDraft[] = outputDrafts(f, output.text, true),
): Record<string, unknown> {
  const status = responseStatus(output);
  // Only the last item can have been cut off.
  const items = drafts.map((draft, i) => {
    const logprobs = draft.type === "message" && f.logprobs !== null ? messageLogprobs(f.logprobs, output, messageSpan(draft)) : [];
    return itemJson(draft, ids.of(i, draft), i === drafts.length - 1 ? status : "completed", draftText(draft), logprobs);
  });
  return responseJson(f, status, items, usageJson(f.promptTokens, output.tokenIds.length, cachedTokens));
}
