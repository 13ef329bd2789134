// thinking_token_budget: with a scripted model whose greedy continuation is known, a reasoning
// section gets exactly its budget of tokens, then the reasoning config's end string is forced token
// by token and the model goes on from there; a section the output opens counts from its start, a
// natural end resets the count; the budget holds whatever the batch; and a budget without a
// reasoning config is refused by name.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Request } from "../../runtime/engine/request.ts";
import type { Sequence } from "../../runtime/engine/sequence.ts";
import { ThinkingBudgets } from "../../runtime/engine/thinking-budget.ts";
import { samplingParams, type SamplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { drain, makeTestEngine, randomPrompts, testTokenizer } from "../support/engine-harness.ts";
import { ScriptedModelRunner } from "../support/engine-scripted-model.ts";
import { eosTokenId } from "../support/engine-tokenizer.ts";

const reasoningConfig = { thinkStartStr: "<think>", thinkEndStr: "</think>" };
const bare = (text: string) => testTokenizer.encode(text, { addSpecialTokens: false });
const endIds = bare("</think>");
const thoughts = bare(" once upon a time, hello world");
const answer = bare(" The end");

/** The prompt opens the section (as Qwen3's and DeepSeek-R1's templates do); the script thinks, closes and answers. */
const prompt = [...testTokenizer.encode("Q:"), ...bare("<think>")];
const script = [...prompt, ...thoughts, ...endIds, ...answer];

function generate(overrides: Partial<SamplingParams>, promptIds = prompt): number[] {
  const engine = makeTestEngine({ reasoningConfig }, new ScriptedModelRunner(script, testTokenizer.vocabSize, eosTokenId));
  engine.addRequest("r", { promptTokenIds: promptIds }, samplingParams({ temperature: 0, maxTokens: 64, ...overrides }));
  const output = drain(engine).get("r")!;
  assert.is(engine.kvCacheManager.numFreeBlocks, engine.kvCacheManager.numBlocks);
  return output.outputs[0].tokenIds;
}

const withoutEos = (ids: number[]) => (ids.at(-1) === eosTokenId ? ids.slice(0, -1) : ids);

test("without a budget (or with -1) the script thinks, closes the section and answers", () => {
  assert.equal(withoutEos(generate({})), [...thoughts, ...endIds, ...answer]);
  assert.equal(withoutEos(generate({ thinkingTokenBudget: -1 })), [...thoughts, ...endIds, ...answer]);
});

test("a budget of k keeps k reasoning tokens, forces the end string, and the model goes on from its position", () => {
  for (const budget of [1, 3, 7]) {
    const forcedUpTo = prompt.length + budget + endIds.length;
    const expected = [...thoughts.slice(0, budget), ...endIds, ...script.slice(forcedUpTo)];
    assert.equal(withoutEos(generate({ thinkingTokenBudget: budget })), expected, `budget ${budget}`);
  }
});

test("a budget of 0 forces the end at once; a budget the reasoning fits in changes nothing", () => {
  assert.equal(generate({ thinkingTokenBudget: 0 }).slice(0, endIds.length), endIds);
  assert.equal(withoutEos(generate({ thinkingTokenBudget: thoughts.length })), [...thoughts, ...endIds, ...answer]);
});

test("a prompt that closed its reasoning leaves the answer alone", () => {
  const closed = [...prompt, ...thoughts, ...endIds];
  assert.equal(withoutEos(generate({ thinkingTokenBudget: 0 }, closed)), answer);
});

/** A sequence stand-in: the fields ThinkingBudgets reads. */
function fakeSequence(promptIds: number[], budget: number): Sequence & { tokenIds: number[] } {
  const request = { params: samplingParams({ thinkingTokenBudget: budget }) } as unknown as Request;
  const seq = { request, tokenIds: [...promptIds], numPromptTokens: promptIds.length };
  Object.defineProperty(seq, "numOutputTokens", { get: () => seq.tokenIds.length - seq.numPromptTokens });
  return seq as unknown as Sequence & { tokenIds: number[] };
}

test("a section the output opens counts from its start; a natural end resets it; a forced end may be followed by another section", () => {
  const budgets = new ThinkingBudgets({ startTokenIds: [10, 11], endTokenIds: [12, 13] });
  const seq = fakeSequence([1, 2], 2);
  const forcedAfter = (tokens: number[]) => {
    seq.tokenIds.push(...tokens);
    return budgets.forcedToken(seq);
  };
  assert.is(forcedAfter([]), null);
  assert.is(forcedAfter([5, 6, 7]), null, "no section yet");
  assert.is(forcedAfter([10, 11]), null, "just opened");
  assert.is(forcedAfter([20]), null, "one of two");
  assert.is(forcedAfter([21]), 12, "budget spent: the end's first token");
  assert.is(forcedAfter([12]), 13, "then its second");
  assert.is(forcedAfter([13]), null, "closed");
  assert.is(forcedAfter([30, 31, 32]), null, "answer tokens do not count");
  assert.is(forcedAfter([10, 11, 40]), null, "a new section counts afresh");
  assert.is(forcedAfter([12, 13, 41, 42, 43]), null, "closed naturally within the budget");
  // A fork reads its tokens from the start.
  const fork = fakeSequence([1, 2], 2);
  fork.tokenIds.push(...seq.tokenIds.slice(2), 10, 11, 50, 51);
  assert.is(budgets.forcedToken(fork), 12);
});

test("budgets hold token for token whatever the batch (random model, greedy and seeded sampling)", () => {
  const prompts = randomPrompts(6, 7, 3, 12).map((p, i) => (i % 2 === 0 ? [...p, ...bare("<think>")] : p));
  const paramsOf = (i: number) => samplingParams({ maxTokens: 24, ignoreEos: true, temperature: i % 3 === 0 ? 0 : 0.8, seed: i, thinkingTokenBudget: [0, 2, 5][i % 3] });
  const alone = prompts.map((p, i) => {
    const engine = makeTestEngine({ reasoningConfig });
    engine.addRequest(`r${i}`, { promptTokenIds: p }, paramsOf(i));
    return drain(engine).get(`r${i}`)!.outputs[0].tokenIds;
  });
  const engine = makeTestEngine({ reasoningConfig });
  prompts.forEach((p, i) => engine.addRequest(`r${i}`, { promptTokenIds: p }, paramsOf(i)));
  const together = drain(engine);
  prompts.forEach((_, i) => assert.equal(together.get(`r${i}`)!.outputs[0].tokenIds, alone[i], `request ${i}`));
  // The prompts that opened a section end it within their budget.
  prompts.forEach((_, i) => {
    if (i % 2 === 0) assert.equal(alone[i].slice([0, 2, 5][i % 3], [0, 2, 5][i % 3] + endIds.length), endIds, `request ${i}`);
  });
});

test("a budget needs a reasoning config; -1 and null do not; a budget below -1 is refused", () => {
  const engine = makeTestEngine();
  const refusal = (params: Partial<SamplingParams>) => {
    try {
      engine.addRequest(`x${Math.random()}`, { promptTokenIds: prompt }, samplingParams(params));
    } catch (e) {
      assert.instance(e, TsvllmError);
      return (e as TsvllmError).param;
    }
    return null;
  };
  assert.is(refusal({ thinkingTokenBudget: 4 }), "thinking_token_budget");
  assert.is(refusal({ thinkingTokenBudget: -1 }), null);
  assert.is(refusal({ thinkingTokenBudget: null }), null);
  assert.is(refusal({ thinkingTokenBudget: -2 }), "thinking_token_budget");
  assert.throws(() => makeTestEngine({ reasoningConfig: { thinkStartStr: "", thinkEndStr: "</think>" } }), /reasoningConfig needs non-empty/);
});

test.run();
