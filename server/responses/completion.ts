// /v1/completions response bodies: the whole answer, or one SSE chunk per choice delta.
import type { CompletionOutput, PositionLogprobs, RequestOutput } from "../../runtime/engine/types.ts";
import type { GenerationEvent } from "../generation.ts";
import { completionLogprobs, promptLogprobsJson, type CompletionLogprobs, type TokenNaming } from "../logprobs.ts";
import type { PreparedPrompt } from "../prompts.ts";
import { DeltaTracker, usage, type ChoiceDelta, type Usage } from "./deltas.ts";

export interface CompletionFormat {
  id: string;
  created: number;
  model: string;
  prompts: readonly PreparedPrompt[];
  n: number;
  echo: boolean;
  /** Top log-probs per token, or null when the request asked for none. */
  logprobs: number | null;
  promptLogprobs: boolean;
  returnTokenIds: boolean;
  naming: TokenNaming;
  /** --enable-prompt-tokens-details: usage counts the prompt tokens read from the prefix cache. */
  promptTokensDetails: boolean;
}

function promptTokenCount(f: CompletionFormat): number {
  return f.prompts.reduce((sum, p) => sum + p.tokenIds.length, 0);
}

/** Log-probs of `tokenIds`; with echo, the prompt's come first (its first entry null). */
function choiceLogprobs(
  f: CompletionFormat,
  numTop: number,
  prompt: PreparedPrompt | null,
  promptPositions: readonly (PositionLogprobs | null)[] | null,
  tokenIds: readonly number[],
  positions: readonly (PositionLogprobs | null)[],
  textOffset: number,
): CompletionLogprobs {
  if (prompt === null) return completionLogprobs(tokenIds, positions, numTop, textOffset, f.naming);
  const echoed = promptPositions ?? prompt.tokenIds.map(() => null);
  return completionLogprobs([...prompt.tokenIds, ...tokenIds], [...echoed, ...positions], numTop, textOffset, f.naming);
}

function choice(f: CompletionFormat, promptIndex: number, request: RequestOutput, output: CompletionOutput) {
  const prompt = f.prompts[promptIndex];
  return {
    index: promptIndex * f.n + output.index,
    text: f.echo ? prompt.text + output.text : output.text,
    logprobs: f.logprobs === null
      ? null
      : choiceLogprobs(f, f.logprobs, f.echo ? prompt : null, request.promptLogprobs, output.tokenIds, output.logprobs ?? [], 0),
    finish_reason: output.finishReason,
    stop_reason: output.stopReason,
    ...(f.promptLogprobs ? { prompt_logprobs: promptLogprobsJson(request.promptLogprobs) } : {}),
    ...(f.returnTokenIds ? { prompt_token_ids: prompt.tokenIds, token_ids: output.tokenIds } : {}),
  };
}

export function completionResponse(f: CompletionFormat, finals: readonly RequestOutput[]) {
  const choices = finals.flatMap((request, p) => request.outputs.map((output) => choice(f, p, request, output)));
  const completionTokens = finals.reduce((sum, r) => sum + r.outputs.reduce((s, o) => s + o.tokenIds.length, 0), 0);
  return {
    id: f.id,
    object: "text_completion" as const,
    created: f.created,
    model: f.model,
    choices,
    // Summed over the prompts (vLLM reports only its last prompt's hit, which undercounts a batch).
    usage: usage(promptTokenCount(f), completionTokens, f.promptTokensDetails ? finals.reduce((sum, r) => sum + (r.numCachedTokens ?? 0), 0) : 0),
  };
}

export class CompletionStreamer {
  private readonly tracker = new DeltaTracker();
  constructor(
    private readonly f: CompletionFormat,
    private readonly continuousUsage: boolean,
  ) {}

  private worthSending(d: ChoiceDelta): boolean {
    if (d.text !== "" || d.last || (d.first && this.f.echo)) return true;
    return d.tokenIds.length > 0 && (this.f.logprobs !== null || this.f.returnTokenIds);
  }

  chunks(event: GenerationEvent): object[] {
    const f = this.f;
    const prompt = f.prompts[event.promptIndex];
    const deltas = this.tracker.deltas(event.output, event.promptIndex * f.n).filter((d) => this.worthSending(d));
    return deltas.map((d) => {
      const echoed = d.first && f.echo;
      const positions = (d.output.logprobs ?? []).slice(d.tokenOffset, d.tokenOffset + d.tokenIds.length);
      const textOffset = f.echo ? prompt.text.length + d.textOffset : d.textOffset;
      return this.chunk({
        index: d.index,
        text: echoed ? prompt.text + d.text : d.text,
        logprobs: f.logprobs === null
          ? null
          : choiceLogprobs(f, f.logprobs, echoed ? prompt : null, event.output.promptLogprobs, d.tokenIds, positions, echoed ? 0 : textOffset),
        finish_reason: d.last ? d.output.finishReason : null,
        stop_reason: d.last ? d.output.stopReason : null,
        ...(f.returnTokenIds ? { token_ids: d.tokenIds, ...(d.first ? { prompt_token_ids: prompt.tokenIds } : {}) } : {}),
      });
    });
  }

  private chunk(choice: object): object {
    const base = { id: this.f.id, object: "text_completion", created: this.f.created, model: this.f.model, choices: [choice] };
    return this.continuousUsage ? { ...base, usage: this.usage() } : base;
  }

  usage(): Usage {
    return usage(promptTokenCount(this.f), this.tracker.completionTokens, this.f.promptTokensDetails ? this.tracker.cachedTokens : 0);
  }

  /** The closing chunk for stream_options.include_usage: no choices, only usage. */
  usageChunk(): object {
    return { id: this.f.id, object: "text_completion", created: this.f.created, model: this.f.model, choices: [], usage: this.usage() };
  }
}
