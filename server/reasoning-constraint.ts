// Structured outputs with a reasoning parser constrain only what follows the reasoning, as in vLLM
// (whose grammar starts once the reasoning has ended). The engine matches a whole output against
// one regular expression, so the constraint becomes: any text without </think>, then </think>,
// then the request's own expression.
import type { SamplingParams } from "../runtime/engine/types.ts";
import { constraintRegex } from "../runtime/structured/constraint-regex.ts";
import { ApiError } from "./errors.ts";
import { thinkEnd, type ReasoningParser } from "./reasoning-parsers.ts";

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

/**
 * A request's params under a reasoning parser: for <think> parsers, the constraint moved past the
 * reasoning (unchanged without one); harmony's parser reads the channel markers, special tokens,
 * so its answers keep them in the text, and a constraint after its final channel's header is not
 * supported (the header repeats "<", which textWithout cannot spell).
 */
export function paramsForReasoning(params: SamplingParams, parser: ReasoningParser): SamplingParams {
  if (parser.format === "harmony") {
    if (params.structuredOutputs !== null) throw new ApiError("unsupported_parameter", `structured outputs are not supported with the ${parser.name} reasoning parser`, "response_format");
    return { ...params, skipSpecialTokens: false };
  }
  return constrainAfterReasoning(params);
}

/** The params with their constraint moved past the reasoning; unchanged without a constraint. */
export function constrainAfterReasoning(params: SamplingParams): SamplingParams {
  if (params.structuredOutputs === null) return params;
  const { source } = constraintRegex(params.structuredOutputs);
  return { ...params, structuredOutputs: { regex: `${textWithout(thinkEnd)}${[...thinkEnd].map(literal).join("")}(?:${source})` } };
}
