// /v1/chat/completions response bodies: the whole answer, or one SSE chunk per choice delta.
import type { CompletionOutput, PositionLogprobs, RequestOutput } from "../../runtime/engine/types.ts";
import { chatLogprobs, promptLogprobsJson, type ChatLogprob, type TokenNaming } from "../logprobs.ts";
import type { PreparedPrompt } from "../prompts.ts";
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
}

function logprobs(f: ChatFormat, tokenIds: readonly number[], positions: readonly (PositionLogprobs | null)[]): { content: ChatLogprob[] } | null {
  if (f.topLogprobs === null) return null;
  return { content: chatLogprobs(tokenIds, positions, f.topLogprobs, f.naming) };
}

function choice(f: ChatFormat, output: CompletionOutput) {
  return {
    index: output.index,
    message: { role: "assistant" as const, content: f.echoText + output.text, tool_calls: [] },
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
  constructor(
    private readonly f: ChatFormat,
    private readonly continuousUsage: boolean,
  ) {}

  private worthSending(d: ChoiceDelta): boolean {
    if (d.first || d.text !== "" || d.last) return true;
    return d.tokenIds.length > 0 && (this.f.topLogprobs !== null || this.f.returnTokenIds);
  }

  chunks(output: RequestOutput): object[] {
    const f = this.f;
    return this.tracker.deltas(output, 0).filter((d) => this.worthSending(d)).map((d) => {
      const positions = (d.output.logprobs ?? []).slice(d.tokenOffset, d.tokenOffset + d.tokenIds.length);
      const delta = d.first
        ? { role: "assistant", content: f.echoText + d.text }
        : d.text !== "" ? { content: d.text } : {};
      return this.chunk({
        index: d.index,
        delta,
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
