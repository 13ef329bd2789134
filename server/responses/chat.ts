// /v1/chat/completions response bodies: the whole answer, or one SSE chunk per choice delta.
import type { CompletionOutput, PositionLogprobs, RequestOutput } from "../../runtime/engine/types.ts";
import { AutoToolCalls, ToolCallDeltas, type AutoAnswerReading, type ToolCallDelta } from "../auto-tool-stream.ts";
import { chatLogprobs, promptLogprobsJson, type ChatLogprob, type TokenNaming } from "../logprobs.ts";
import type { PreparedPrompt } from "../prompts.ts";
import { splitReasoning, type ReasoningParser } from "../reasoning-parsers.ts";
import { newToolCallId, toolAnswerOf, type ToolChoiceMode } from "../tool-calls.ts";
import type { ToolCallParser } from "../tool-parsers.ts";
import { DeltaTracker, usage, type ChoiceDelta, type Usage } from "./deltas.ts";

export interface ChatFormat {
  id: string;
  created: number;
  model: string;
  prompt: PreparedPrompt;
  /** The answer's role: --response-role, or the final message's when there is no generation prompt. */
  role: string;
  /** With echo, the final assistant message the answer continues; "" otherwise. */
  echoText: string;
  /** top_logprobs, or null when logprobs is off. */
  topLogprobs: number | null;
  promptLogprobs: boolean;
  returnTokenIds: boolean;
  naming: TokenNaming;
  /** With "named" or "required", the answer is tool calls rather than content. */
  toolChoice: ToolChoiceMode;
  /** The parser that reads the answer's reasoning and whether it is sent (include_reasoning); null for none. */
  reasoning: { include: boolean; parser: ReasoningParser } | null;
  /** --enable-prompt-tokens-details: usage counts the prompt tokens read from the prefix cache. */
  promptTokensDetails: boolean;
}

/**
 * The answer so far as reasoning and the text after it; while it streams (not `final`), a possible
 * start of a tag is held back. Without a reasoning parser it is all content.
 */
function partsOf(f: ChatFormat, text: string, final: boolean, knownReasoning = 0): { reasoning: string; content: string } {
  if (f.reasoning === null) return { reasoning: "", content: text };
  const split = splitReasoning(f.reasoning.parser, text, final, knownReasoning);
  return { reasoning: split.reasoning, content: split.content ?? "" };
}

/** The reasoning under both of vLLM's names: `reasoning` now, and `reasoning_content`, the older name that older clients read. */
function reasoningJson(reasoning: string | null): { reasoning: string | null; reasoning_content: string | null } {
  return { reasoning, reasoning_content: reasoning };
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
  const parts = partsOf(f, output.text, true);
  // With a reasoning parser, an answer that is all reasoning has null content, as in vLLM.
  const reasoning = f.reasoning === null ? {} : reasoningJson(f.reasoning.include ? parts.reasoning : null);
  const tools = toolAnswerOf(f.toolChoice, parts.content);
  if (tools === null) {
    const content = f.echoText + parts.content;
    return { message: { role: f.role, content: content === "" && f.reasoning !== null ? null : content, ...reasoning, tool_calls: [] }, finishReason: output.finishReason };
  }
  const auto = f.toolChoice.kind === "auto";
  return {
    message: { role: f.role, content: auto && tools.content === "" ? null : tools.content, ...reasoning, tool_calls: tools.toolCalls },
    finishReason: auto ? ("tool_calls" as const) : output.finishReason,
  };
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
    usage: usage(f.prompt.tokenIds.length, completionTokens, f.promptTokensDetails ? (final.numCachedTokens ?? 0) : 0),
    ...(f.returnTokenIds ? { prompt_token_ids: f.prompt.tokenIds } : {}),
    ...(f.promptLogprobs ? { prompt_logprobs: promptLogprobsJson(final.promptLogprobs) } : {}),
  };
}

export class ChatStreamer {
  private readonly tracker = new DeltaTracker();
  /** Each choice's call id for a named tool choice, sent with the call's first arguments. */
  private readonly toolCallIds = new Map<number, string>();
  /** Characters of each choice's reasoning and content sent so far. */
  private readonly sent = new Map<number, { reasoning: number; content: number }>();
  /** Each choice's calls with an "auto" tool choice, streamed as they are generated. */
  private readonly autoCallsByChoice = new Map<number, { reading: AutoToolCalls; deltas: ToolCallDeltas }>();
  constructor(
    private readonly f: ChatFormat,
    private readonly continuousUsage: boolean,
  ) {}

  /** A delta's tokens go out even without text when the client asked for their logprobs or ids. */
  private carriesTokens(d: ChoiceDelta): boolean {
    return d.tokenIds.length > 0 && (this.f.topLogprobs !== null || this.f.returnTokenIds);
  }

  /**
   * The chunk's delta and finish reason: reasoning while the answer reasons, then content; with a
   * named tool choice the function's arguments as they come (the first of them also name the
   * call); with "required" every call at the end; with "auto" content up to where calls may
   * begin, then each call as it is generated (see auto-tool-stream.ts).
   */
  private delta(d: ChoiceDelta): { delta: object; finishReason: string | null } {
    const mode = this.f.toolChoice;
    const role = d.first ? { role: this.f.role } : {};
    const finishReason = d.last ? d.output.finishReason : null;
    const sent = this.sent.get(d.index) ?? { reasoning: 0, content: 0 };
    this.sent.set(d.index, sent);
    // Searching on from the reasoning already split off keeps a long answer's stream linear.
    const parts = partsOf(this.f, d.output.text, d.last, sent.reasoning);
    const newReasoning = this.f.reasoning?.include ? parts.reasoning.slice(sent.reasoning) : "";
    sent.reasoning = Math.max(sent.reasoning, parts.reasoning.length);
    const reasoning = newReasoning === "" ? {} : reasoningJson(newReasoning);
    const text = parts.content;
    if (mode.kind === "named") {
      const args = text.slice(sent.content);
      sent.content = Math.max(sent.content, text.length);
      // Without reasoning the first chunk names the call at once; with it, the call waits for its arguments.
      const announce = !this.toolCallIds.has(d.index) && (args !== "" || d.last || (d.first && this.f.reasoning === null));
      if (announce) this.toolCallIds.set(d.index, newToolCallId());
      const call = announce ? { index: 0, id: this.toolCallIds.get(d.index), type: "function", function: { name: mode.name, arguments: args } } : { index: 0, function: { arguments: args } };
      return { delta: { ...role, ...reasoning, ...(announce || args !== "" ? { tool_calls: [call] } : {}) }, finishReason };
    }
    const auto = mode.kind === "auto" ? this.autoCalls(d.index, mode.parser, text, d.last) : null;
    const tools = d.last && auto === null ? toolAnswerOf(mode, text) : null;
    const end = auto?.contentEnd ?? (tools !== null ? tools.content.length : d.last || mode.kind === "none" ? text.length : 0);
    const content = (d.first ? this.f.echoText : "") + text.slice(sent.content, Math.max(sent.content, end));
    sent.content = Math.max(sent.content, end);
    const toolCalls = auto?.toolCalls ?? tools?.toolCalls.map((call, index) => ({ index, ...call })) ?? [];
    const delta = { ...role, ...(content !== "" || d.first ? { content } : {}), ...reasoning, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) };
    return { delta, finishReason: auto?.called ? "tool_calls" : finishReason };
  }

  /** An auto answer so far, with its calls' new deltas. */
  private autoCalls(index: number, parser: ToolCallParser, text: string, final: boolean): AutoAnswerReading & { toolCalls: ToolCallDelta[] } {
    const calls = this.autoCallsByChoice.get(index) ?? { reading: new AutoToolCalls(parser), deltas: new ToolCallDeltas(parser) };
    this.autoCallsByChoice.set(index, calls);
    const reading = calls.reading.read(text, final);
    return { ...reading, toolCalls: calls.deltas.of(reading.calls) };
  }

  chunks(output: RequestOutput): object[] {
    const f = this.f;
    return this.tracker.deltas(output, 0).flatMap((d) => {
      const { delta, finishReason } = this.delta(d);
      // Text held back (a possible tag, calls not yet complete) leaves nothing to send.
      if (!d.first && !d.last && Object.keys(delta).length === 0 && !this.carriesTokens(d)) return [];
      const positions = (d.output.logprobs ?? []).slice(d.tokenOffset, d.tokenOffset + d.tokenIds.length);
      return [this.chunk({
        index: d.index,
        delta,
        logprobs: logprobs(f, d.tokenIds, positions),
        finish_reason: finishReason,
        stop_reason: d.last ? d.output.stopReason : null,
        ...(f.returnTokenIds ? { token_ids: d.tokenIds } : {}),
      }, d.first && f.returnTokenIds)];
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
    return usage(this.f.prompt.tokenIds.length, this.tracker.completionTokens, this.f.promptTokensDetails ? this.tracker.cachedTokens : 0);
  }

  /** The closing chunk for stream_options.include_usage: no choices, only usage. */
  usageChunk(): object {
    return { id: this.f.id, object: "chat.completion.chunk", created: this.f.created, model: this.f.model, choices: [], usage: this.usage() };
  }
}
