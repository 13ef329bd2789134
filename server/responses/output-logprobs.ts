// Output log-probs of /v1/responses (include "message.output_text.logprobs"): the message's
// output_text part carries the log-probs of the tokens that wrote it, in chat's entry shape
// ({token, logprob, bytes, top_logprobs}). An answer may hold reasoning before the message and tool
// calls after it, so each token belongs to the item its text ends in: the engine's text is read
// again with its detokenizer to learn where every token ends.
import type { CompletionOutput } from "../../runtime/engine/types.ts";
import type { IncrementalDetokenizer } from "../../runtime/tokenizer/types.ts";
import { chatLogprobs, type ChatLogprob, type TokenNaming } from "../logprobs.ts";

export interface OutputLogprobsFormat {
  /** top_logprobs: the alternatives listed per token. */
  top: number;
  naming: TokenNaming;
  /** As the request's sampling params decode the answer, so the text lines up with the engine's. */
  skipSpecialTokens: boolean;
}

/** The span of the answer's text a message covers. */
export interface TextSpan {
  start: number;
  end: number;
}

/**
 * Hands out the log-probs of an answer's tokens as its message grows. A token that completes no
 * text yet (part of a UTF-8 character, a skipped special token) ends where the next text does,
 * or, at the end of the answer, where the answer's text ends; so does a token past the text's end
 * (the engine cut a stop string off).
 */
export class MessageLogprobs {
  private readonly detokenizer: IncrementalDetokenizer;
  /** Where each token's text ends, for the tokens whose end is known. */
  private ends: number[] = [];
  private tokensRead = 0;
  private textLength = 0;
  /** The first token not handed out yet. */
  private next = 0;

  constructor(private readonly f: OutputLogprobsFormat) {
    this.detokenizer = f.naming.tokenizer.createDetokenizer({ skipSpecialTokens: f.skipSpecialTokens });
  }

  /** Reads the tokens the output has added; `final` settles every token's end within the answer's text. */
  read(output: CompletionOutput, final: boolean): void {
    for (const id of output.tokenIds.slice(this.tokensRead)) {
      this.tokensRead++;
      const piece = this.detokenizer.push(id);
      if (piece === "") continue;
      this.textLength += piece.length;
      while (this.ends.length < this.tokensRead) this.ends.push(this.textLength);
    }
    if (!final) return;
    const textEnd = output.text.length;
    this.ends = this.ends.map((end) => Math.min(end, textEnd));
    while (this.ends.length < this.tokensRead) this.ends.push(textEnd);
  }

  /**
   * The log-probs of the tokens not handed out before whose text ends by `span.end`; those ending
   * at or before `span.start` wrote what came before the message (its reasoning) and are skipped.
   */
  take(output: CompletionOutput, span: TextSpan): ChatLogprob[] {
    let first = this.next;
    while (this.next < this.ends.length && this.ends[this.next] <= span.end) this.next++;
    while (first < this.next && this.ends[first] <= span.start) first++;
    const positions = (output.logprobs ?? []).slice(first, this.next);
    return chatLogprobs(output.tokenIds.slice(first, this.next), positions, this.f.top, this.f.naming);
  }
}

/** The whole answer's message log-probs. */
export function messageLogprobs(f: OutputLogprobsFormat, output: CompletionOutput, span: TextSpan): ChatLogprob[] {
  const logprobs = new MessageLogprobs(f);
  logprobs.read(output, true);
  return logprobs.take(output, span);
}

/** A streamed text event's entries, as OpenAI's delta events shape them: without `bytes`. */
export function eventLogprobs(logprobs: readonly ChatLogprob[]) {
  return logprobs.map(({ token, logprob, top_logprobs }) => ({ token, logprob, top_logprobs: top_logprobs.map((top) => ({ token: top.token, logprob: top.logprob })) }));
}
