// pythonic and qwen3_coder calls while they stream: their arguments are read as a whole (Python
// literals; XML values typed by the request's tool schemas), so they cannot grow in place, and each
// call goes out whole as soon as the model has written it. The parser itself reads it, from the
// answer cut just after the call: a call is whole where that cut parses as more calls than before,
// beginning with those already read.
import { TagSearch } from "./tag-search.ts";
import type { StreamedToolCall, ToolCallStreamReader } from "./tool-call-stream.ts";
import type { ToolCallParser } from "./tool-parsers.ts";

class WholeCallsReader implements ToolCallStreamReader {
  private calls: StreamedToolCall[] = [];

  constructor(
    private readonly parser: ToolCallParser,
    /** Where calls may have ended in the text since the last reading. */
    private readonly newCuts: (text: string) => number[],
    /** The answer the text up to a cut would be, had it ended there. */
    private readonly answerAt: (text: string, cut: number) => string,
  ) {}

  read(text: string, final: boolean): StreamedToolCall[] {
    // The last cut that parses has all the calls before it too.
    for (const cut of this.newCuts(text).reverse()) if (this.readCalls(this.answerAt(text, cut))) break;
    if (final) this.readCalls(text);
    return this.calls;
  }

  /** Takes the calls of `answer` where they are more than those read and begin with them; whether they were. */
  private readCalls(answer: string): boolean {
    const found = this.parser.extract(answer)?.calls ?? [];
    const more = found.length > this.calls.length && this.calls.every((call, i) => call.name === found[i].name && call.argumentsSoFar === found[i].arguments);
    if (more) this.calls = found.map((call) => ({ name: call.name, argumentsSoFar: call.arguments, complete: true }));
    return more;
  }
}

/** A pythonic call ends at its ")", where "," or the list's "]" follows it (after any space) outside strings. */
function pythonicCuts(): (text: string) => number[] {
  let next = 0;
  let lastNonSpace = "";
  /** The quote of the string being read (one or three ' or "), as the pythonic reader takes it; "" outside strings. */
  let quote = "";
  return (text) => {
    const cuts: number[] = [];
    // Only an answer that opens the list can be calls.
    if (!text.startsWith("[")) return cuts;
    while (next < text.length) {
      const char = text[next];
      const isQuote = char === '"' || char === "'";
      // A quote near the end may yet be one of three: read on once the text after it has come.
      if (isQuote && text.length - next < 3) break;
      if (quote !== "") {
        const closes = text.startsWith(quote, next);
        next += char === "\\" ? 2 : closes ? quote.length : 1;
        if (closes) quote = "";
        continue;
      }
      if ((char === "," || char === "]") && lastNonSpace === ")") cuts.push(next);
      if (!" \t\r\n".includes(char)) lastNonSpace = char;
      quote = isQuote ? (text.startsWith(char.repeat(3), next) ? char.repeat(3) : char) : "";
      next += quote.length || 1;
    }
    return cuts;
  };
}

/** A qwen3_coder call ends with its </function>. */
function functionEnds(): (text: string) => number[] {
  const search = new TagSearch("</function>");
  let next = 0;
  return (text) => {
    const cuts: number[] = [];
    for (let at = search.find(text, next); at >= 0; at = search.find(text, next)) {
      next = at + search.tag.length;
      cuts.push(next);
    }
    return cuts;
  };
}

export const pythonicReader = (parser: ToolCallParser): ToolCallStreamReader => new WholeCallsReader(parser, pythonicCuts(), (text, cut) => `${text.slice(0, cut)}]`);

export const qwen3CoderReader = (parser: ToolCallParser): ToolCallStreamReader => new WholeCallsReader(parser, functionEnds(), (text, cut) => text.slice(0, cut));
