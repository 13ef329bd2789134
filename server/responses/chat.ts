// /v1/chat/completions response bodies: the whole answer, or one SSE chunk per choice delta.
import type { CompletionOutput, PositionLogprobs, RequestOutput } from "../../runtime/engine/types.ts";
import { chatLogprobs, promptLogprobsJson, type ChatLogprob, type TokenNaming } from "../logprobs.ts";
import type { PreparedPrompt } from "../prompts.ts";
import { newToolCallId, toolAnswerOf, type ToolChoiceMode } from "../tool-calls.ts";
import { DeltaTracker, usage, type ChoiceDelta, type Usage } from "./deltas.ts";

export interface ChatFormat {
  id: string;
  created: number;
  model: string;
  prompt: PreparedPrompt;
  /** With echo, the final assistant message the answer continues; "" otherwise. */
  echoText: string;
  /** top_logprobs, or null when logprobs is off. */
  topLogprobs: number | null;
  promptLogprobs: boolean;
  returnTokenIds: boolean;
  naming: TokenNaming;
  /** With "named" or "required", the answer is tool calls rather than content. */
  toolChoice: ToolChoiceMode;
}

function logprobs(f: ChatFormat, tokenIds: readonly number[], positions: readonly (PositionLogprobs | null)[]): { content: ChatLogprob[] } | null {
  if (f.topLogprobs === null) return null;
  return { content: chatLogprobs(tokenIds, positions, f.topLogprobs, f.naming) };
}

/**
 * The answer as content, or as tool calls where a tool choice made it them: content is then ""
 * (named, required) or what an auto answer said before its calls (null for nothing), and an auto
 * answer that called tools finishes with "tool_calls", as in vLLM.
 */
function answer(f: ChatFormat, output: CompletionOutput) {
  const tools = toolAnswerOf(f.toolChoice, output.text);
  if (tools === null) return { message: { role: "assistant" as const, content: f.echoText + output.text, tool_calls: [] }, finishReason: output.finishReason };
  const auto = f.toolChoice.kind === "auto";
  return {
    message: { role: "assistant" as const, content: auto && tools.content === "" ? null : tools.content, tool_calls: tools.toolCalls },
    finishReason: auto ? ("tool_calls" as const) : output.finishReason,
  };
}

/** How much of an auto answer's text may stream as content: up to its first call, and never a possible start of one. */
function contentEnd(text: string, startTag: string): number {
  const start = text.indexOf(startTag);
  if (start >= 0) return start;
  for (let keep = Math.min(startTag.length - 1, text.length); keep > 0; keep--) {
    if (text.endsWith(startTag.slice(0, keep))) return text.length - keep;
  }
  return text.length;
}

function choice(f: ChatFormat, output: CompletionOutput) {
  const { message, finishReason } = answer(f, output);
  return {
    index: output.index,
    message,
    logprobs: logprobs(f, output.tokenIds, output.logprobs ?? []),
    finish_reason: finishReason,
    stop_reason: output.stopReason,
    ...(f.returnTokenIds ? { token_ids: output.tokenIds } : {}),
  };
}

export function chatResponse(f: ChatFormat, final: RequestOutput) {
  const completionTokens = final.outputs.reduce((sum, o) => sum + o.tokenIds.length, 0);
  return {
    id: f.id,
    object: "chat.completion" as const,
    created: f.created,
    model: f.model,
    choices: final.outputs.map((output) => choice(f, output)),
    usage: usage(f.prompt.tokenIds.length, completionTokens),
    ...(f.returnTokenIds ? { prompt_token_ids: f.prompt.tokenIds } : {}),
    ...(f.promptLogprobs ? { prompt_logprobs: promptLogprobsJson(final.promptLogprobs) } : {}),
  };
}

export class ChatStreamer {
  private readonly tracker = new DeltaTracker();
  /** Each choice's call id for a named tool choice, sent in its first chunk. */
  private readonly toolCallIds = new Map<number, string>();
  /** Characters of each auto answer sent as content. */
  private readonly contentSent = new Map<number, number>();
  constructor(
    private readonly f: ChatFormat,
    private readonly continuousUsage: boolean,
  ) {}

  private worthSending(d: ChoiceDelta): boolean {
    // "required" calls go out whole at the end: the list is parsed only once it is complete.
    if (d.first || d.last || (d.text !== "" && this.f.toolChoice.kind !== "required")) return true;
    return d.tokenIds.length > 0 && (this.f.topLogprobs !== null || this.f.returnTokenIds);
  }

  /**
   * The chunk's delta and finish reason: content; with a named tool choice the function's
   * arguments as they come (the first chunk also names the call); with "required" every call at
   * the end; with "auto" content up to the first call, then the calls at the end.
   */
  private delta(d: ChoiceDelta): { delta: object; finishReason: string | null } {
    const mode = this.f.toolChoice;
    const role = d.first ? { role: "assistant" } : {};
    const finishReason = d.last ? d.output.finishReason : null;
    if (mode.kind === "named") {
      if (d.first) this.toolCallIds.set(d.index, newToolCallId());
      const call = d.first ? { index: 0, id: this.toolCallIds.get(d.index), type: "function", function: { name: mode.name, arguments: d.text } } : { index: 0, function: { arguments: d.text } };
      return { delta: d.first || d.text !== "" ? { ...role, tool_calls: [call] } : {}, finishReason };
    }
    if (mode.kind === "none") return { delta: d.first ? { ...role, content: this.f.echoText + d.text } : d.text !== "" ? { content: d.text } : {}, finishReason };
    const text = d.output.text;
    const sent = this.contentSent.get(d.index) ?? 0;
    const tools = d.last ? toolAnswerOf(mode, text) : null;
    const end = tools !== null ? tools.content.length : !d.last && mode.kind === "auto" ? contentEnd(text, mode.parser.startTag) : d.last ? text.length : 0;
    const content = (d.first ? this.f.echoText : "") + text.slice(sent, Math.max(sent, end));
    this.contentSent.set(d.index, Math.max(sent, end));
    const calls = tools === null ? {} : { tool_calls: tools.toolCalls.map((call, index) => ({ index, ...call })) };
    const delta = { ...role, ...(content !== "" || d.first ? { content } : {}), ...calls };
    return { delta, finishReason: tools !== null && mode.kind === "auto" ? "tool_calls" : finishReason };
  }

  chunks(output: RequestOutput): object[] {
    const f = this.f;
    return this.tracker.deltas(output, 0).filter((d) => this.worthSending(d)).map((d) => {
      const positions = (d.output.logprobs ?? []).slice(d.tokenOffset, d.tokenOffset + d.tokenIds.length);
      const { delta, finishReason } = this.delta(d);
      return this.chunk({
        index: d.index,
        delta,
        logprobs: logprobs(f, d.tokenIds, positions),
        finish_reason: finishReason,
        stop_reason: d.last ? d.output.stopReason : null,
        ...(f.returnTokenIds ? { token_ids: d.tokenIds } : {}),
      }, d.first && f.returnTokenIds);
    });
  }

  private chunk(choice: object, withPromptIds: boolean): object {
    const base = { id: this.f.id, object: "chat.completion.chunk", created: this.f.created, model: this.f.model, choices: [choice] };
    return {
      ...base,
      ...(withPromptIds ? { prompt_token_ids: this.f.prompt.tokenIds } : {}),
      ...(this.continuousUsage ? { usage: this.usage() } : {}),
    };
  }

  usage(): Usage {
    return usage(this.f.prompt.tokenIds.length, this.tracker.completionTokens);
  }

  /** The closing chunk for stream_options.include_usage: no choices, only usage. */
  usageChunk(): object {
    return { id: this.f.id, object: "chat.completion.chunk", created: this.f.created, model: this.f.model, choices: [], usage: this.usage() };
  }
}
