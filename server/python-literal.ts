// The pythonic tool-call syntax of Llama 3.2 and 4 (vLLM's "pythonic" parser): a Python list of
// calls with keyword arguments, `[get_weather(city="Oslo", days=3), get_time()]`, whose values are
// literals: strings, numbers, True/False/None, lists and dicts. Read by a small recursive-descent
// reader, never evaluated; anything else in the text makes it not a call list.

export interface PythonCall {
  name: string;
  /** The keyword arguments as JSON-ready values. */
  arguments: Record<string, unknown>;
}

/** Thrown inside the reader on the first thing that is not the expected syntax. */
class NotACallList extends Error {}

const identifier = /[A-Za-z]\w*/y;
const number = /[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?/y;
const keywords: Record<string, unknown> = { True: true, False: false, None: null };
const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", a: "\x07", 0: "\0", "\\": "\\", "'": "'", '"': '"', "\n": "" };

class Reader {
  private pos = 0;
  constructor(private readonly text: string) {}

  private skipSpace(): void {
    while (this.pos < this.text.length && " \t\r\n".includes(this.text[this.pos])) this.pos++;
  }

  /** Consumes `char` (after any space) when it comes next. */
  private eat(char: string): boolean {
    this.skipSpace();
    if (this.text[this.pos] !== char) return false;
    this.pos++;
    return true;
  }

  private expect(char: string): void {
    if (!this.eat(char)) throw new NotACallList(`expected '${char}' at ${this.pos}`);
  }

  private match(pattern: RegExp): string | null {
    this.skipSpace();
    pattern.lastIndex = this.pos;
    const found = pattern.exec(this.text);
    if (found === null) return null;
    this.pos += found[0].length;
    return found[0];
  }

  /** Items separated by commas (a trailing one allowed) up to `close`. */
  private sequence(close: string, item: () => void): void {
    while (!this.eat(close)) {
      item();
      if (!this.eat(",")) return this.expect(close);
    }
  }

  callList(): PythonCall[] {
    const calls: PythonCall[] = [];
    this.expect("[");
    this.sequence("]", () => calls.push(this.call()));
    this.skipSpace();
    if (this.pos !== this.text.length || calls.length === 0) throw new NotACallList("not a list of calls alone");
    return calls;
  }

  private call(): PythonCall {
    const name = this.match(identifier);
    if (name === null) throw new NotACallList(`expected a function name at ${this.pos}`);
    const args: Record<string, unknown> = {};
    this.expect("(");
    this.sequence(")", () => {
      const key = this.match(identifier);
      if (key === null) throw new NotACallList(`expected a keyword argument at ${this.pos}`);
      this.expect("=");
      args[key] = this.value();
    });
    return { name, arguments: args };
  }

  private value(): unknown {
    this.skipSpace();
    const char = this.text[this.pos];
    if (char === "'" || char === '"') return this.string();
    if (this.eat("[")) {
      const items: unknown[] = [];
      this.sequence("]", () => items.push(this.value()));
      return items;
    }
    if (this.eat("{")) {
      const entries: Record<string, unknown> = {};
      this.sequence("}", () => {
        const key = this.value();
        if (typeof key !== "string" && typeof key !== "number") throw new NotACallList("dict keys must be strings or numbers");
        this.expect(":");
        entries[String(key)] = this.value();
      });
      return entries;
    }
    const word = this.match(identifier);
    if (word !== null) {
      if (!(word in keywords)) throw new NotACallList(`'${word}' is not a literal`);
      return keywords[word];
    }
    const digits = this.match(number);
    if (digits === null) throw new NotACallList(`expected a value at ${this.pos}`);
    return Number(digits.replaceAll("_", ""));
  }

  private string(): string {
    const quote = this.text.startsWith(this.text[this.pos].repeat(3), this.pos) ? this.text[this.pos].repeat(3) : this.text[this.pos];
    this.pos += quote.length;
    let out = "";
    while (!this.text.startsWith(quote, this.pos)) {
      const char = this.text[this.pos++];
      if (char === undefined || (char === "\n" && quote.length === 1)) throw new NotACallList("unterminated string");
      out += char === "\\" ? this.escape() : char;
    }
    this.pos += quote.length;
    return out;
  }

  private escape(): string {
    const char = this.text[this.pos++];
    if (char === undefined) throw new NotACallList("unterminated string");
    if (char in escapes) return escapes[char];
    const width = { x: 2, u: 4, U: 8 }[char];
    if (width === undefined) return `\\${char}`; // Python keeps unknown escapes as written
    const hex = this.text.slice(this.pos, this.pos + width);
    if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) throw new NotACallList(`bad \\${char} escape`);
    this.pos += width;
    const codePoint = parseInt(hex, 16);
    if (codePoint > 0x10ffff) throw new NotACallList(`\\${char}${hex} is not a character`);
    return String.fromCodePoint(codePoint);
  }
}

/** The calls when the whole text is a non-empty list of calls with literal keyword arguments; null otherwise. */
export function parsePythonCalls(text: string): PythonCall[] | null {
  try {
    return new Reader(text).callList();
  } catch (err) {
    if (err instanceof NotACallList) return null;
    throw err;
  }
}
