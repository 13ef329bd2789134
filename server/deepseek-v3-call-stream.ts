// deepseek_v3's calls while they stream. After <｜tool▁calls▁begin｜> each call is
//   <｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGUMENTS\n```<｜tool▁call▁end｜>
// with its arguments one line of JSON, kept as written (as the parser keeps them). A call counts
// once its name's line and the "```json" line are whole; its arguments then stream up to the last
// whole JSON token of the line, and are the whole line once it ends.
import { JsonScanner } from "./json-scanner.ts";
import { TagSearch } from "./tag-search.ts";
import type { StreamedToolCall, ToolCallStreamReader } from "./tool-call-stream.ts";
import { deepseekCallBegin, deepseekCallsBegin } from "./tool-parsers.ts";

const typeAndSeparator = "function<｜tool▁sep｜>";
const argumentsOpening = "```json\n";
const header = /function<｜tool▁sep｜>([^\n]*)\n```json\n/y;
const callClosing = "\n```<｜tool▁call▁end｜>";

/** What is read next: the calls' begin token, a call's begin token, its header, its arguments or its closing. */
type Stage = "calls" | "call" | "header" | "arguments" | "closing";

interface DeepseekCall {
  name: string;
  argumentsStart: number;
  scanner: JsonScanner;
  /** The end of the arguments' line once it has ended; -1 until then. */
  argumentsEnd: number;
  complete: boolean;
}

/** Whether `rest`, the text after a call's begin token, may still grow into the call's header. */
function mayBeHeader(rest: string): boolean {
  const nameEnd = rest.indexOf("\n");
  if (nameEnd < 0) return typeAndSeparator.startsWith(rest) || rest.startsWith(typeAndSeparator);
  return rest.startsWith(typeAndSeparator) && argumentsOpening.startsWith(rest.slice(nameEnd + 1));
}

class DeepseekV3Reader implements ToolCallStreamReader {
  private readonly calls: DeepseekCall[] = [];
  private readonly callsBegin = new TagSearch(deepseekCallsBegin);
  private readonly callBegins = new TagSearch(deepseekCallBegin);
  private readonly lineEnds = new TagSearch("\n");
  /** What is read next, from `pos`. */
  private stage: Stage = "calls";
  private pos = 0;
  /** Set once the text can no longer be calls: what was read stays, nothing more is. */
  private stopped = false;

  read(text: string, final: boolean): StreamedToolCall[] {
    while (!this.stopped && this.step(text, final));
    return this.calls.map((call) => ({
      name: call.name,
      argumentsSoFar: text.slice(call.argumentsStart, call.argumentsEnd >= 0 ? call.argumentsEnd : call.scanner.safeEnd),
      complete: call.complete,
    }));
  }

  /** Reads the next part; false where the text so far holds no more of it. */
  private step(text: string, final: boolean): boolean {
    switch (this.stage) {
      case "calls":
        return this.after(this.callsBegin.find(text, this.pos), deepseekCallsBegin, "call");
      case "call":
        return this.after(this.callBegins.find(text, this.pos), deepseekCallBegin, "header");
      case "header":
        return this.header(text, final);
      case "arguments":
        return this.argumentsLine(text, final);
      case "closing":
        return this.closing(text, final);
    }
  }

  private after(at: number, tag: string, next: Stage): boolean {
    if (at < 0) return false;
    this.pos = at + tag.length;
    this.stage = next;
    return true;
  }

  private header(text: string, final: boolean): boolean {
    header.lastIndex = this.pos;
    const match = header.exec(text);
    if (match === null) {
      if (final || !mayBeHeader(text.slice(this.pos))) this.stopped = true;
      return false;
    }
    const argumentsStart = this.pos + match[0].length;
    this.calls.push({ name: match[1], argumentsStart, scanner: new JsonScanner(argumentsStart), argumentsEnd: -1, complete: false });
    return this.after(argumentsStart, "", "arguments");
  }

  /** The arguments' line: one JSON value, with space around it. */
  private argumentsLine(text: string, final: boolean): boolean {
    const call = this.calls[this.calls.length - 1];
    const lineEnd = this.lineEnds.find(text, this.pos);
    call.scanner.scan(text, lineEnd >= 0 ? lineEnd : text.length);
    if (lineEnd < 0) {
      if (call.scanner.failed || final) this.stopped = true;
      return false;
    }
    call.scanner.finish(text);
    if (call.scanner.failed || !call.scanner.wholeBefore(text, lineEnd)) {
      this.stopped = true;
      return false;
    }
    call.argumentsEnd = lineEnd;
    return this.after(lineEnd, "", "closing");
  }

  private closing(text: string, final: boolean): boolean {
    const got = text.slice(this.pos, this.pos + callClosing.length);
    if (got === callClosing) {
      this.calls[this.calls.length - 1].complete = true;
      return this.after(this.pos, callClosing, "call");
    }
    if (final || !callClosing.startsWith(got)) this.stopped = true;
    return false;
  }
}

export const deepseekV3Reader = (): ToolCallStreamReader => new DeepseekV3Reader();
