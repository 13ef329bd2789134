// The calls in a JSON call object, or a list of them, while the model writes it: a call counts once
// its name is whole and its arguments have begun (or the object has ended without them), so that an
// answer cut off before its arguments sends no call; its arguments are the raw text of its
// arguments value so far, which only grows and ends as that value's text, whose JSON is the value
// the parser's callOf reads.
import { JsonScanner } from "./json-scanner.ts";
import type { StreamedToolCall } from "./tool-call-stream.ts";

export interface JsonCallRules {
  /** The keys the arguments may come under, as the parser's callOf reads them. */
  argumentsKeys: readonly string[];
  /** Whether an object without arguments is no call (vLLM's granite and phi4_mini_json read them by key). */
  argumentsRequired: boolean;
  /** 0 where the value is one call object, 1 where it is a list of them. */
  callDepth: 0 | 1;
}

interface CallDraft {
  /** The name once its string is whole. */
  name: string | null;
  nameSeen: boolean;
  argumentsKey: string | null;
  argumentsStart: number;
  /** Past the arguments value once it is whole; -1 until then. */
  argumentsEnd: number;
  complete: boolean;
}

export class JsonCallsScanner extends JsonScanner {
  private readonly drafts: CallDraft[] = [];
  /** The key of the call's member being read, and where its value began. */
  private member = "";
  private memberStart = 0;

  constructor(
    start: number,
    private readonly rules: JsonCallRules,
  ) {
    super(start);
  }

  /** The calls read so far whose name is whole and whose arguments have begun (or which are whole), in order. */
  calls(text: string): StreamedToolCall[] {
    const calls: StreamedToolCall[] = [];
    for (const draft of this.drafts) {
      if (draft.name === null || (draft.argumentsKey === null && !draft.complete)) break;
      calls.push({ name: draft.name, argumentsSoFar: this.argumentsSoFar(text, draft), complete: draft.complete });
    }
    return calls;
  }

  private argumentsSoFar(text: string, draft: CallDraft): string {
    // Only a whole call is passed on without arguments, which callOf reads as {}.
    if (draft.argumentsKey === null) return "{}";
    const whole = draft.argumentsEnd >= 0;
    if ("{[".includes(text[draft.argumentsStart])) return text.slice(draft.argumentsStart, whole ? draft.argumentsEnd : this.safeEnd);
    // A string, number or literal is short: it goes out whole, as callOf writes it (null as {}).
    return whole ? JSON.stringify(JSON.parse(text.slice(draft.argumentsStart, draft.argumentsEnd)) ?? {}) : "";
  }

  protected override valueBegins(text: string, at: number, depth: number): void {
    const { callDepth, argumentsKeys } = this.rules;
    if (depth < callDepth && text[at] !== "[") return this.fail();
    if (depth === callDepth) {
      if (text[at] !== "{") return this.fail();
      this.drafts.push({ name: null, nameSeen: false, argumentsKey: null, argumentsStart: 0, argumentsEnd: -1, complete: false });
    }
    if (depth !== callDepth + 1) return;
    const draft = this.drafts[this.drafts.length - 1];
    this.memberStart = at;
    if (this.member === "name" && text[at] !== '"') return this.fail();
    if (argumentsKeys.includes(this.member)) {
      draft.argumentsKey = this.member;
      draft.argumentsStart = at;
    }
  }

  protected override valueEnds(text: string, end: number, depth: number): void {
    const draft = this.drafts[this.drafts.length - 1];
    if (depth === this.rules.callDepth + 1) {
      if (this.member === "name") draft.name = JSON.parse(text.slice(this.memberStart, end)) as string;
      else if (this.member === draft.argumentsKey) draft.argumentsEnd = end;
    } else if (depth === this.rules.callDepth) {
      if (!draft.nameSeen || (this.rules.argumentsRequired && draft.argumentsKey === null)) return this.fail();
      draft.complete = true;
    }
  }

  protected override keyRead(key: string, depth: number): void {
    if (depth !== this.rules.callDepth + 1) return;
    const draft = this.drafts[this.drafts.length - 1];
    // A name or arguments written twice: JSON.parse keeps the last and callOf prefers one key to
    // another, while the first may have streamed already, so such an object is read no further.
    const isArguments = this.rules.argumentsKeys.includes(key);
    if ((key === "name" && draft.nameSeen) || (isArguments && draft.argumentsKey !== null)) return this.fail();
    if (key === "name") draft.nameSeen = true;
    this.member = key;
  }
}
