// Reading a structured-output automaton character by character in tests, and drawing random
// strings it accepts (so a test can check every one against an independent validator).
import { classOf, type RegexDfa } from "../../runtime/structured/regex-dfa.ts";

/** Whether the automaton accepts the whole text. */
export function dfaAccepts(dfa: RegexDfa, text: string): boolean {
  let s = 0;
  for (const char of text) {
    s = dfa.next[s * dfa.numClasses + classOf(dfa, char.codePointAt(0)!)];
    if (s < 0) return false;
  }
  return dfa.accepting[s] === 1;
}

/**
 * A random accepted string: from each state a random character of a random class that leads on,
 * stopping at an accepting state with probability `stopChance` (always where nothing leads on).
 * Characters are drawn near the start of their class, so they stay mostly printable.
 */
export function randomAccepted(dfa: RegexDfa, random: () => number, stopChance = 0.3, maxLength = 400): string {
  let s = 0;
  let text = "";
  for (;;) {
    const exits: number[] = [];
    for (let c = 0; c < dfa.numClasses; c++) if (dfa.next[s * dfa.numClasses + c] >= 0) exits.push(c);
    const mustStop = exits.length === 0 || text.length >= maxLength;
    if (dfa.accepting[s] === 1 && (mustStop || random() < stopChance)) return text;
    if (exits.length === 0) throw new Error(`dead end at state ${s} after ${JSON.stringify(text)}`);
    const c = exits[Math.floor(random() * exits.length)];
    const start = dfa.classStarts[c];
    const end = c + 1 < dfa.numClasses ? dfa.classStarts[c + 1] - 1 : 0x10ffff;
    const code = start + Math.floor(random() * Math.min(end - start + 1, 64));
    text += String.fromCodePoint(code);
    s = dfa.next[s * dfa.numClasses + c];
  }
}
