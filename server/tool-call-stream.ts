// Reading an "auto" answer's tool calls while the model writes them, one reader per tool-call
// parser, so that a stream sends each call as vLLM does: its name once whole, then its arguments as
// they grow. A reader passes on only what cannot change: a call appears once its name is whole and
// the text before it is the parser's call syntax, and its arguments only ever grow, ending as the
// arguments the parser reads from the whole answer (as the model wrote them, spaces and all, where
// the parser writes them anew: the same JSON either way). Where the text stops being calls, a
// reader stops: what it has passed on stays (a stream cannot take it back; see auto-tool-stream.ts).
// - JSON calls (hermes, mistral, llama3_json, granite, phi4_mini_json, internlm): the call objects
//   are scanned as they come (json-calls-scanner.ts), each call's arguments streaming.
// - deepseek_v3: its arguments line streams the same way (deepseek-v3-call-stream.ts).
// - pythonic, qwen3_coder: each call goes out whole as soon as it is (whole-call-stream.ts).
import { deepseekV3Reader } from "./deepseek-v3-call-stream.ts";
import { JsonCallsScanner, type JsonCallRules } from "./json-calls-scanner.ts";
import { TagSearch } from "./tag-search.ts";
import { afterGraniteTags, functoolsTag, internlmTag, mistralTag, pythonTag, type ToolCallParser } from "./tool-parsers.ts";
import { pythonicReader, qwen3CoderReader } from "./whole-call-stream.ts";

export interface StreamedToolCall {
  name: string;
  /** The arguments' text so far: it only grows, and ends as the call's arguments. */
  argumentsSoFar: string;
  /** Whether the call's text is whole. */
  complete: boolean;
}

export interface ToolCallStreamReader {
  /** The calls in the answer so far; `text` only grows from one reading to the next, and is the whole answer when `final`. */
  read(text: string, final: boolean): StreamedToolCall[];
}

/** Readers of calls written as JSON: the scanners of the call values found so far, in order. */
abstract class JsonCallsReader implements ToolCallStreamReader {
  protected readonly scanners: JsonCallsScanner[] = [];
  /** Set once the text can no longer be calls: what was read stays, nothing more is. */
  protected stopped = false;

  read(text: string, final: boolean): StreamedToolCall[] {
    if (!this.stopped) this.advance(text, final);
    return this.scanners.flatMap((scanner) => scanner.calls(text));
  }

  protected abstract advance(text: string, final: boolean): void;

  protected begin(start: number, rules: JsonCallRules): JsonCallsScanner {
    const scanner = new JsonCallsScanner(start, rules);
    this.scanners.push(scanner);
    return scanner;
  }
}

/**
 * One call object in each block between an opening and a closing tag, the last block maybe cut
 * off by the end of the answer: hermes (its object after space), internlm (one block, its object
 * from the block's first "{").
 */
class TaggedCallsReader extends JsonCallsReader {
  private readonly opens: TagSearch;
  private readonly closes: TagSearch;
  /** The block being read: where its text begins, and its object's scanner once that has begun; null between blocks. */
  private block: { start: number; scanner: JsonCallsScanner | null } | null = null;
  private next = 0;

  constructor(
    open: string,
    close: string,
    private readonly rules: JsonCallRules,
    private readonly format: { objectAtFirstBrace: boolean; oneBlock: boolean },
  ) {
    super();
    this.opens = new TagSearch(open);
    this.closes = new TagSearch(close);
  }

  protected advance(text: string, final: boolean): void {
    for (;;) {
      if (this.block === null) {
        if (this.format.oneBlock && this.scanners.length > 0) return;
        const open = this.opens.find(text, this.next);
        if (open < 0) return;
        this.block = { start: open + this.opens.tag.length, scanner: null };
      }
      const close = this.closes.find(text, this.block.start);
      const end = this.closes.blockEnd(text, close, final);
      this.block.scanner ??= this.objectIn(text, this.block.start, end);
      const scanner = this.block.scanner;
      scanner?.scan(text, end);
      // The block is its object with space around it, as JSON.parse reads it.
      const objectEnded = scanner !== null && scanner.end >= 0;
      if (scanner?.failed || (objectEnded ? !scanner.wholeBefore(text, end) : close >= 0)) {
        this.stopped = true;
        return;
      }
      if (close < 0) return;
      this.block = null;
      this.next = close + this.closes.tag.length;
    }
  }

  /** The scanner of the block's object, once it has begun before `end`. */
  private objectIn(text: string, start: number, end: number): JsonCallsScanner | null {
    const objectStart = this.format.objectAtFirstBrace ? text.indexOf("{", start) : start;
    return objectStart >= 0 && objectStart < end ? this.begin(objectStart, this.rules) : null;
  }
}

/**
 * A JSON list of call objects: mistral (after [TOOL_CALLS]), phi4_mini_json (functools[...]) and
 * granite (the whole answer after its tags). `locate` says where the list begins: null while that
 * is not known yet, -1 where the answer is no list.
 */
class ListReader extends JsonCallsReader {
  constructor(
    private readonly locate: (text: string) => number | null,
    private readonly rules: JsonCallRules,
    /** Whether only space may follow the list (granite parses the rest of the answer as the list; the others read past text after it). */
    private readonly endsAnswer: boolean,
  ) {
    super();
  }

  protected advance(text: string): void {
    if (this.scanners.length === 0) {
      const start = this.locate(text);
      if (start === null) return;
      if (start < 0) {
        this.stopped = true;
        return;
      }
      this.begin(start, this.rules);
    }
    const scanner = this.scanners[0];
    scanner.scan(text);
    if (scanner.failed || (this.endsAnswer && scanner.end >= 0 && !scanner.wholeBefore(text, text.length))) this.stopped = true;
  }
}

/** The list right after a tag (after space, for mistral), once the tag is in the text. */
function listAfter(tag: string, offset: number): (text: string) => number | null {
  const search = new TagSearch(tag);
  return (text) => {
    const at = search.find(text, 0);
    return at < 0 ? null : at + tag.length + offset;
  };
}

/** Granite's list: the answer after its tags, once they are past; -1 once the answer has shown itself to be content. */
function graniteList(parser: ToolCallParser): (text: string) => number | null {
  return (text) => {
    if (parser.contentEnd(text) > 0) return -1;
    const rest = afterGraniteTags(text);
    // `rest` is the end of the answer trimmed, so it begins where the trimmed answer is as long.
    return rest.startsWith("[") ? text.trimEnd().length - rest.length : null;
  };
}

/** llama3_json: call objects from the answer's first character (after <|python_tag|>), separated by ";". */
class Llama3JsonReader extends JsonCallsReader {
  private static readonly rules: JsonCallRules = { argumentsKeys: ["arguments", "parameters"], argumentsRequired: false, callDepth: 0 };
  private static readonly separator = /\s*(;\s*)?/y;

  protected advance(text: string): void {
    if (this.scanners.length === 0) {
      if (pythonTag.startsWith(text)) return;
      const start = text.startsWith(pythonTag) ? pythonTag.length : 0;
      if (text[start] !== "{") {
        this.stopped = true;
        return;
      }
      this.begin(start, Llama3JsonReader.rules);
    }
    for (;;) {
      const scanner = this.scanners[this.scanners.length - 1];
      scanner.scan(text);
      if (scanner.failed) {
        this.stopped = true;
        return;
      }
      if (scanner.end < 0) return;
      const separator = Llama3JsonReader.separator;
      separator.lastIndex = scanner.end;
      const found = separator.exec(text)!;
      const next = scanner.end + found[0].length;
      // Space may end the answer; anything but ";" and the next object after it makes it no calls.
      if (next === text.length) return;
      if (found[1] === undefined || text[next] !== "{") {
        this.stopped = true;
        return;
      }
      this.begin(next, Llama3JsonReader.rules);
    }
  }
}

const argumentsOnly: JsonCallRules = { argumentsKeys: ["arguments"], argumentsRequired: false, callDepth: 1 };

const readers = new Map<string, (parser: ToolCallParser) => ToolCallStreamReader>([
  ["hermes", () => new TaggedCallsReader("<tool_call>", "</tool_call>", { ...argumentsOnly, callDepth: 0 }, { objectAtFirstBrace: false, oneBlock: false })],
  ["mistral", () => new ListReader(listAfter(mistralTag, 0), argumentsOnly, false)],
  ["llama3_json", () => new Llama3JsonReader()],
  ["pythonic", pythonicReader],
  ["granite", (parser) => new ListReader(graniteList(parser), { ...argumentsOnly, argumentsRequired: true }, true)],
  ["phi4_mini_json", () => new ListReader(listAfter(functoolsTag, -1), { argumentsKeys: ["arguments", "parameters"], argumentsRequired: true, callDepth: 1 }, false)],
  ["qwen3_coder", qwen3CoderReader],
  ["deepseek_v3", deepseekV3Reader],
  [
    "internlm",
    () => new TaggedCallsReader(internlmTag, "<|action_end|>", { argumentsKeys: ["parameters", "arguments"], argumentsRequired: false, callDepth: 0 }, { objectAtFirstBrace: true, oneBlock: true }),
  ],
]);

/** The parser's streaming reader; null for a parser without one, whose calls go out whole at the end. */
export function toolCallStreamReader(parser: ToolCallParser): ToolCallStreamReader | null {
  return readers.get(parser.name)?.(parser) ?? null;
}
