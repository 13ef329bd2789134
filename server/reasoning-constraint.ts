// Structured outputs with a reasoning parser constrain only what follows the reasoning, as in vLLM
// (whose grammar starts once the reasoning has ended). The engine matches a whole output against
// one regular expression, so the constraint becomes: any text without </think>, then </think>,
// then the request's own expression.
import type { SamplingParams } from "../runtime/engine/types.ts";
import { constraintRegex } from "../runtime/structured/constraint-regex.ts";
import { thinkEnd } from "./reasoning-parsers.ts";

/** A character as a code point escape, which reads the same inside and outside a class. */
const literal = (char: string) => `\\u{${char.codePointAt(0)!.toString(16)}}`;

/**
 * Any text that does not contain `tag`, whose first character occurs in it only once (as "<" does
 * in </think>). The automaton has no lookahead, so it is spelt out: every first character starts
 * an attempt at the tag, which breaks off on a character that neither continues it nor starts a
 * new attempt, or stays open where the next attempt starts or the text ends, one short of the tag.
 */
export function textWithout(tag: string): string {
  const [first, ...rest] = [...tag].map(literal);
  let broken = `[^${first}${rest[rest.length - 1]}]`;
  let open = "";
  for (let j = rest.length - 2; j >= 0; j--) {
    broken = `[^${first}${rest[j]}]|${rest[j]}(?:${broken})`;
    open = `(?:${rest[j]}${open})?`;
  }
  const openAttempt = `${first}${open}`;
  return `(?:[^${first}]|(?:${openAttempt})*${first}(?:${broken}))*(?:${openAttempt})*`;
}

/** The params with their constraint moved past the reasoning; unchanged without a constraint. */
export function constrainAfterReasoning(params: SamplingParams): SamplingParams {
  if (params.structuredOutputs === null) return params;
  const { source } = constraintRegex(params.structuredOutputs);
  return { ...params, structuredOutputs: { regex: `${textWithout(thinkEnd)}${[...thinkEnd].map(literal).join("")}(?:${source})` } };
}
