// /v1/chat/completions response bodies: the whole answer, or one SSE chunk per choice delta.
import type { CompletionOutput, PositionLogprobs, RequestOutput } from "../../runtime/engine/types.ts";
import { chatLogprobs, promptLogprobsJson, type ChatLogprob, type TokenNaming } from "../logprobs.ts";
import type { PreparedPrompt } from "../prompts.ts";
import { newToolCallId, toolCallsOf, type ToolChoiceMode } from "../tool-calls.ts";
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

/** The answer as content, or as tool calls when a tool choice made it one (content then ""). */
function message(f: ChatFormat, output: CompletionOutput) {
  const calls = toolCallsOf(f.toolChoice, output.text);
  return { role: "assistant" as const, content: calls === null ? f.echoText + output.text : "", tool_calls: calls ?? [] };
}

function choice(f: ChatFormat, output: CompletionOutput) {
  return {
    index: output.index,
    message: message(f, output),
    logprobs: logprobs(f, output.tokenIds, output.logprobs ?? []),
    finish_reason: output.finishReason,
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
   * The chunk's delta: content, or with a named tool choice the function's arguments as they
   * come (the first chunk also names the call), or with "required" every call at the end.
   */
  private delta(d: ChoiceDelta): object {
    const mode = this.f.toolChoice;
    const role = d.first ? { role: "assistant" } : {};
    if (mode.kind === "named") {
      if (d.first) this.toolCallIds.set(d.index, newToolCallId());
      const call = d.first ? { index: 0, id: this.toolCallIds.get(d.index), type: "function", function: { name: mode.name, arguments: d.text } } : { index: 0, function: { arguments: d.text } };
      return d.first || d.text !== "" ? { ...role, tool_calls: [call] } : {};
    }
    if (mode.kind === "required") {
      if (!d.last) return { ...role, content: "" };
      const calls = toolCallsOf(mode, d.output.text);
      return calls === null ? { ...role, content: d.output.text } : { ...role, tool_calls: calls.map((call, index) => ({ index, ...call })) };
    }
    if (d.first) return { ...role, content: this.f.echoText + d.text };
    return d.text !== "" ? { content: d.text } : {};
  }

  chunks(output: RequestOutput): object[] {
    const f = this.f;
    return this.tracker.deltas(output, 0).filter((d) => this.worthSending(d)).map((d) => {
      const positions = (d.output.logprobs ?? []).slice(d.tokenOffset, d.tokenOffset + d.tokenIds.length);
      return this.chunk({
        index: d.index,
        delta: this.delta(d),
        logprobs: logprobs(f, d.tokenIds, positions),
        finish_reason: d.last ? d.output.finishReason : null,
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
