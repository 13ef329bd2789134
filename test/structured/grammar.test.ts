// Token masks of structured-output grammars over the engine test tokenizer (bytes plus a few
// multi-character merges), against brute force: from a state, a token is allowed exactly when its
// text followed by some continuation is a whole match, which for a list of choices is "some
// choice starts with the text so far plus the token's text".
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TsvllmError } from "../../runtime/errors.ts";
import { constraintRegex } from "../../runtime/structured/constraint-regex.ts";
import { deadState, StructuredOutputGrammar } from "../../runtime/structured/grammar.ts";
import { compileRegexDfa } from "../../runtime/structured/regex-dfa.ts";
import { tokenVocabulary } from "../../runtime/structured/token-vocabulary.ts";
import { EngineTestTokenizer } from "../support/engine-tokenizer.ts";

const tokenizer = new EngineTestTokenizer();
const vocab = tokenVocabulary(tokenizer);

function grammarOf(choice: string[]): StructuredOutputGrammar {
  const { source, param } = constraintRegex({ choice });
  return new StructuredOutputGrammar(compileRegexDfa(source, param), vocab);
}

/** Tokens with text of their own: no specials, no lone bytes of a multi-byte character. */
function textOf(id: number): string | null {
  if (tokenizer.isSpecial(id)) return null;
  const text = tokenizer.tokenText(id);
  return text === "" || text.includes("\uFFFD") ? null : text;
}

test("the vocabulary leaves out special tokens and partial UTF-8 bytes, and keeps the rest", () => {
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const text = String.fromCodePoint(...vocab.codePoints.subarray(vocab.offsets[id], vocab.offsets[id + 1]));
    assert.is(text, textOf(id) ?? "", `token ${id}`);
  }
});

test("allowed tokens are exactly those some choice continues with, at every prefix", () => {
  const choices = ["the end", "then", "hello world", "a time", "3.14", "{\"x\": [1]}"];
  const grammar = grammarOf(choices);
  const prefixes = new Set(choices.flatMap((c) => Array.from({ length: c.length }, (_, i) => c.slice(0, i))));
  for (const prefix of prefixes) {
    let state = grammar.initialState;
    for (const id of tokenizer.encode(prefix, { addSpecialTokens: false })) state = grammar.advance(state, id);
    assert.ok(state >= 0, prefix);
    const expected = [];
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      const text = textOf(id);
      if (text !== null && choices.some((c) => c.startsWith(prefix + text))) expected.push(id);
    }
    assert.equal([...grammar.allowedTokens(state)], expected, JSON.stringify(prefix));
    assert.is(grammar.isAccepting(state), choices.includes(prefix));
  }
});

test("a whole choice is accepting; where nothing can follow, no token is allowed", () => {
  const grammar = grammarOf(["then", "the"]);
  let state = grammar.initialState;
  for (const id of tokenizer.encode("the", { addSpecialTokens: false })) state = grammar.advance(state, id);
  assert.ok(grammar.isAccepting(state));
  assert.equal([...grammar.allowedTokens(state)].map((id) => tokenizer.tokenText(id)), ["n"]);
  state = grammar.advance(state, tokenizer.encode("n", { addSpecialTokens: false })[0]);
  assert.ok(grammar.isAccepting(state));
  assert.is(grammar.allowedTokens(state).length, 0);
  assert.is(grammar.advance(state, tokenizer.encode("x", { addSpecialTokens: false })[0]), deadState);
  assert.is(grammar.allowedTokens(deadState).length, 0);
  assert.not.ok(grammar.isAccepting(deadState));
});

test("a regex constraint matches the whole output; anchors are allowed and implied", () => {
  for (const regex of ["[0-9]{3}-[a-z]+", "^[0-9]{3}-[a-z]+$"]) {
    const { source } = constraintRegex({ regex });
    const grammar = new StructuredOutputGrammar(compileRegexDfa(source, "regex"), vocab);
    let state = grammar.initialState;
    for (const id of tokenizer.encode("123-ab", { addSpecialTokens: false })) state = grammar.advance(state, id);
    assert.ok(grammar.isAccepting(state));
    const digitsOnly = tokenizer.encode("12", { addSpecialTokens: false }).reduce((s, id) => grammar.advance(s, id), grammar.initialState);
    assert.not.ok(grammar.isAccepting(digitsOnly));
    assert.equal([...grammar.allowedTokens(digitsOnly)].map((id) => tokenizer.tokenText(id)), [..."0123456789"]);
  }
});

test("constraints that cannot be built are refused naming the field", () => {
  const cases: [Parameters<typeof constraintRegex>[0], string, RegExp][] = [
    [{ regex: "([a-z]+)\\1" }, "structured_outputs.regex", /automaton/],
    [{ regex: "(?<=a)b" }, "structured_outputs.regex", /automaton/],
    [{ regex: "[" }, "structured_outputs.regex", /automaton/],
    [{ regex: "[^\\s\\S]" }, "structured_outputs.regex", /matches no text/],
    [{ choice: [] }, "structured_outputs.choice", /non-empty list/],
    [{ json: "{not json" }, "structured_outputs.json", /not valid JSON/],
    [{}, "structured_outputs", /got none/],
    [{ regex: "a", choice: ["a"] }, "structured_outputs", /got regex, choice/],
  ];
  for (const [params, param, message] of cases) {
    try {
      const { source, param: field } = constraintRegex(params);
      compileRegexDfa(source, field);
      assert.unreachable(JSON.stringify(params));
    } catch (err) {
      assert.instance(err, TsvllmError, JSON.stringify(params));
      assert.is((err as TsvllmError).param, param);
      assert.match((err as TsvllmError).message, message);
    }
  }
});

test.run();
