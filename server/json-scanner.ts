// A resumable reader of one JSON value while a model writes it. It checks that the text so far can
// still begin a JSON value, knows where the last whole token ends (so a half-written number,
// literal or escape is never passed on: it might yet turn out to be no JSON), and tells a subclass
// where values and object keys begin and end, which is how the tool-call readers find a call's
// name and the span of its arguments without waiting for the whole call.

const space = " \t\n\r";
const simpleEscapes = '"\\/bfnrt';
const jsonNumber = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const literals = new Set(["true", "false", "null"]);

/** What may come next between tokens. */
type Expected = "value" | "valueOrClose" | "key" | "keyOrClose" | "colon" | "commaOrClose";

export class JsonScanner {
  /** Where reading resumes. */
  private pos: number;
  /** The objects ("{") and arrays ("[") open around the current position. */
  private readonly open: ("{" | "[")[] = [];
  private expected: Expected = "value";
  /** The token being read: a string (an object's key or a value), a number or literal, or none between tokens. */
  private token: "key" | "string" | "scalar" | null = null;
  private tokenStart = 0;
  /** Inside a string: -1 just after a backslash, n while n hex digits of a \u escape are due, 0 otherwise. */
  private escape = 0;
  /** Past the last whole token (or the space after it): the text before it is certain. */
  safeEnd: number;
  /** Past the value once it is whole; -1 until then. */
  end = -1;
  /** Set where the text stops being JSON, or (in a subclass) stops being what the subclass reads. */
  failed = false;

  constructor(start: number) {
    this.pos = start;
    this.safeEnd = start;
  }

  /** Reads `text` on up to `upTo`; between calls the text may only have grown. */
  scan(text: string, upTo = text.length): void {
    while (this.pos < upTo && this.end < 0 && !this.failed) this.step(text, this.pos++);
  }

  /** The text ends where reading stopped: a number or literal there is whole (a value that ends its line). */
  finish(text: string): void {
    if (this.token === "scalar" && !this.failed) this.endScalar(text, this.pos);
  }

  /** Whether the value is whole with nothing but space after it up to `to` (as JSON.parse reads a value). */
  wholeBefore(text: string, to: number): boolean {
    return this.end >= 0 && text.slice(this.end, to).trim() === "";
  }

  /** A value begins at `at` inside `depth` objects and arrays (0 for the value itself). */
  protected valueBegins(_text: string, _at: number, _depth: number): void {}

  /** A value that began at `depth` ends just before `end`. */
  protected valueEnds(_text: string, _end: number, _depth: number): void {}

  /** A key of the object at `depth` (1 for the value's own keys) was read. */
  protected keyRead(_key: string, _depth: number): void {}

  protected fail(): void {
    this.failed = true;
  }

  private step(text: string, i: number): void {
    const char = text[i];
    if (this.token === "key" || this.token === "string") return this.stringChar(text, i, char);
    if (this.token === "scalar") {
      if (/[\w.+-]/.test(char)) return;
      this.endScalar(text, i);
      if (this.failed || this.end >= 0) return;
    }
    if (space.includes(char)) {
      this.safeEnd = i + 1;
      return;
    }
    switch (this.expected) {
      case "value":
      case "valueOrClose":
        return char === "]" && this.expected === "valueOrClose" ? this.close(text, i) : this.beginValue(text, i, char);
      case "key":
      case "keyOrClose":
        if (char === "}" && this.expected === "keyOrClose") return this.close(text, i);
        if (char !== '"') return this.fail();
        this.token = "key";
        this.tokenStart = i;
        return;
      case "colon":
        if (char !== ":") return this.fail();
        this.expected = "value";
        this.safeEnd = i + 1;
        return;
      case "commaOrClose": {
        const container = this.open[this.open.length - 1];
        if (char === (container === "{" ? "}" : "]")) return this.close(text, i);
        if (char !== ",") return this.fail();
        this.expected = container === "{" ? "key" : "value";
        this.safeEnd = i + 1;
      }
    }
  }

  private beginValue(text: string, i: number, char: string): void {
    const container = char === "{" || char === "[";
    if (!container && char !== '"' && !/[-\w]/.test(char)) return this.fail();
    this.valueBegins(text, i, this.open.length);
    if (this.failed) return;
    if (container) {
      this.open.push(char);
      this.expected = char === "{" ? "keyOrClose" : "valueOrClose";
      this.safeEnd = i + 1;
      return;
    }
    this.token = char === '"' ? "string" : "scalar";
    this.tokenStart = i;
  }

  private stringChar(text: string, i: number, char: string): void {
    if (this.escape === -1) {
      if (char === "u") this.escape = 4;
      else if (simpleEscapes.includes(char)) this.escape = 0;
      else return this.fail();
    } else if (this.escape > 0) {
      if (!/[0-9a-fA-F]/.test(char)) return this.fail();
      this.escape--;
    } else if (char === "\\") {
      this.escape = -1;
      return;
    } else if (char === '"') {
      return this.endString(text, i);
    } else if (char < " ") {
      return this.fail();
    }
    if (this.escape === 0) this.safeEnd = i + 1;
  }

  private endString(text: string, i: number): void {
    const isKey = this.token === "key";
    this.token = null;
    this.safeEnd = i + 1;
    if (!isKey) return this.closeValue(text, i + 1);
    this.expected = "colon";
    this.keyRead(JSON.parse(text.slice(this.tokenStart, i + 1)) as string, this.open.length);
  }

  private endScalar(text: string, end: number): void {
    this.token = null;
    const raw = text.slice(this.tokenStart, end);
    if (!jsonNumber.test(raw) && !literals.has(raw)) return this.fail();
    this.safeEnd = end;
    this.closeValue(text, end);
  }

  private close(text: string, i: number): void {
    this.open.pop();
    this.safeEnd = i + 1;
    this.closeValue(text, i + 1);
  }

  private closeValue(text: string, end: number): void {
    this.valueEnds(text, end, this.open.length);
    if (this.failed) return;
    if (this.open.length === 0) this.end = end;
    else this.expected = "commaOrClose";
  }
}
