// An "auto" answer streamed with its tool calls as vLLM streams them: content up to where calls may
// begin (the parser's contentEnd), then each call as it is generated, read by the parser's reader
// (tool-call-stream.ts). In a chat stream a call's first delta is {index, id, type, function:
// {name, arguments}} and, as its arguments grow, further deltas are {index, function:
// {arguments}}, which clients join per index; the Responses API streams the same readings as
// function_call items and their arguments' deltas. At the end the whole answer is read as the non-streamed answer is:
// - calls that have begun to stream are finished from the reader's last reading: their arguments
//   are the model's own text, the same JSON as the non-streamed answer's;
// - where none has (a parser without a reader, calls the reader did not take for calls while they
//   came), the calls go out whole, as the non-streamed answer has them;
// - an answer that is no calls is content.
// A call goes out only once its text is certain to be the parser's call syntax (its name whole and
// its arguments begun), yet the answer may still fail to be calls: cut off in a call's arguments
// (max_tokens), or turning malformed after them (text after a llama3_json or granite answer's
// calls, a later call that does not parse, a call object naming its arguments twice). What went
// out cannot be taken back; the stream then ends with the finish reason the engine gave rather
// than "tool_calls", as the non-streamed answer does, so a client can tell the calls were not made.
import { newToolCallId } from "./tool-calls.ts";
import { toolCallStreamReader, type StreamedToolCall, type ToolCallStreamReader } from "./tool-call-stream.ts";
import type { ToolCallParser } from "./tool-parsers.ts";

/** An auto answer so far: its content ends at `contentEnd`, then come its calls; `called` once the whole answer is calls. */
export interface AutoAnswerReading {
  contentEnd: number;
  calls: StreamedToolCall[];
  called: boolean;
}

export class AutoToolCalls {
  private readonly reader: ToolCallStreamReader | null;
  /** Whether calls have gone out before the last reading. */
  private begun = false;

  constructor(private readonly parser: ToolCallParser) {
    this.reader = toolCallStreamReader(parser);
  }

  /** The answer so far, each reading of which is sent (the calls' arguments only grow from one to the next). */
  read(text: string, final: boolean): AutoAnswerReading {
    const streamed = this.reader?.read(text, final) ?? [];
    const found = final ? this.parser.extract(text) : null;
    if (!final || this.begun) {
      this.begun ||= streamed.length > 0;
      const whole = found !== null && found.calls.length === streamed.length && streamed.every((call) => call.complete);
      return { contentEnd: this.parser.contentEnd(text), calls: streamed, called: whole };
    }
    if (found === null) return { contentEnd: text.length, calls: [], called: false };
    return { contentEnd: found.content.length, calls: found.calls.map((call) => ({ name: call.name, argumentsSoFar: call.arguments, complete: true })), called: true };
  }
}

export interface ToolCallDelta {
  index: number;
  /** The call's id, type and name come with its first delta. */
  id?: string;
  type?: "function";
  function: { name?: string; arguments: string };
}

/** A chat stream's tool_calls deltas, from successive readings of the calls. */
export class ToolCallDeltas {
  private readonly newCallId: () => string;
  /** Characters of each call's arguments sent so far. */
  private readonly sentArguments: number[] = [];

  constructor(parser: ToolCallParser) {
    // Mistral's templates want call ids of their own kind.
    this.newCallId = parser.callId ?? newToolCallId;
  }

  of(calls: readonly StreamedToolCall[]): ToolCallDelta[] {
    return calls.flatMap((call, index): ToolCallDelta[] => {
      const sent = this.sentArguments[index];
      this.sentArguments[index] = call.argumentsSoFar.length;
      const added = call.argumentsSoFar.slice(sent ?? 0);
      if (sent === undefined) return [{ index, id: this.newCallId(), type: "function", function: { name: call.name, arguments: added } }];
      return added === "" ? [] : [{ index, function: { arguments: added } }];
    });
  }
}
