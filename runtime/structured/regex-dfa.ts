// A regular expression as a minimal DFA in flat arrays, the form the token masks are computed from.
// refa (a library made for regex <-> automaton conversion) parses the expression as JavaScript
// reads it with the u flag and builds and minimises the automaton; here it is packed into a
// transition table over character classes (code point ranges every transition agrees on), and
// states from which no accepting state can be reached are cut, so a token can never lead into a
// dead end.
import { DFA, JS, NFA } from "refa";
import { TsvllmError } from "../errors.ts";

/** Past these the expression is refused: its automaton would take too long to build or to mask. */
const maxNfaNodes = 200_000;
const maxDfaStates = 20_000;

export interface RegexDfa {
  readonly numStates: number;
  /** State 0 is the initial state. */
  readonly numClasses: number;
  /** Class c holds the code points from classStarts[c] up to classStarts[c + 1] - 1 (the last up to U+10FFFF). */
  readonly classStarts: Int32Array;
  /** next[state * numClasses + class]: the state after reading a character of the class, or -1. */
  readonly next: Int32Array;
  readonly accepting: Uint8Array;
  /** Whether any character leads on from the state. */
  readonly hasExit: Uint8Array;
}

/** The class holding a code point. */
export function classOf(dfa: RegexDfa, codePoint: number): number {
  const starts = dfa.classStarts;
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= codePoint) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function buildDfa(source: string, param: string): DFA {
  try {
    const { expression, maxCharacter } = JS.Parser.fromLiteral({ source, flags: "u" }).parse({ backreferences: "throw", assertions: "throw" });
    const nfa = NFA.fromRegex(expression, { maxCharacter }, { assertions: "throw" }, new NFA.LimitedNodeFactory(maxNfaNodes));
    const dfa = DFA.fromFA(nfa, new DFA.LimitedNodeFactory(maxDfaStates));
    dfa.minimize();
    return dfa;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `cannot build an automaton for the expression: ${why.split("\n")[0]}`, param);
  }
}

/** The expression's automaton; `param` names the request field in errors. */
export function compileRegexDfa(source: string, param: string): RegexDfa {
  const dfa = buildDfa(source, param);
  const nodes = [dfa.initial, ...[...dfa.nodes()].filter((n) => n !== dfa.initial)];
  const index = new Map(nodes.map((n, i) => [n, i]));
  const boundaries = new Set([0]);
  for (const node of nodes) {
    for (const range of node.out.keys()) {
      boundaries.add(range.min);
      boundaries.add(range.max + 1);
    }
  }
  const classStarts = Int32Array.from([...boundaries].filter((b) => b <= dfa.maxCharacter).sort((a, b) => a - b));
  const numClasses = classStarts.length;
  const numStates = nodes.length;
  const next = new Int32Array(numStates * numClasses).fill(-1);
  const accepting = new Uint8Array(numStates);
  const partial: RegexDfa = { numStates, numClasses, classStarts, next, accepting, hasExit: new Uint8Array(numStates) };
  nodes.forEach((node, s) => {
    accepting[s] = dfa.finals.has(node) ? 1 : 0;
    for (const [range, to] of node.out.entries()) {
      for (let c = classOf(partial, range.min); c < numClasses && classStarts[c] <= range.max; c++) next[s * numClasses + c] = index.get(to)!;
    }
  });
  cutDeadEnds(partial);
  if (!accepting[0] && !partial.hasExit[0]) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", "the expression matches no text at all", param);
  return partial;
}

/** Removes every transition into a state that cannot reach an accepting one; sets hasExit. */
function cutDeadEnds(dfa: RegexDfa): void {
  const { numStates, numClasses, next, accepting, hasExit } = dfa;
  const live = Uint8Array.from(accepting);
  for (let changed = true; changed; ) {
    changed = false;
    for (let s = 0; s < numStates; s++) {
      if (live[s]) continue;
      for (let c = 0; c < numClasses; c++) {
        const t = next[s * numClasses + c];
        if (t >= 0 && live[t]) {
          live[s] = 1;
          changed = true;
          break;
        }
      }
    }
  }
  for (let i = 0; i < next.length; i++) if (next[i] >= 0 && !live[next[i]]) next[i] = -1;
  for (let s = 0; s < numStates; s++) {
    for (let c = 0; c < numClasses && !hasExit[s]; c++) if (next[s * numClasses + c] >= 0) hasExit[s] = 1;
  }
}
