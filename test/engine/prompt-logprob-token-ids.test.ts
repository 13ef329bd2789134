// prompt_logprob_token_ids (vLLM's prefill scoring): row i gives the requested tokens' log-probs as
// predictions of prompt token prompt_logprob_start + i + 1, equal to the whole-vocabulary prompt
// log-probs, -Infinity for -1 padding; chunked prefill, the prefix cache and prompt_logprobs asked
// alongside change nothing; bad rows are refused naming the field.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EngineArgs } from "../../runtime/engine/config.ts";
import { samplingParams, type SamplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { drain, makeTestEngine, randomPrompts, testTokenizer } from "../support/engine-harness.ts";

const [prompt] = randomPrompts(1, 909, 20, 20);
const last = testTokenizer.vocabSize - 1;
/** Ragged rows: each scores the actual next token and a few others, the odd ones padded with -1. */
const rowsFrom = (start: number) => prompt.slice(start + 1).map((next, i) => (i % 2 === 0 ? [next, 7, last] : [3, next, -1]));

function run(params: Partial<SamplingParams>, config: EngineArgs = {}) {
  const engine = makeTestEngine({ maxLogprobs: -1, ...config });
  engine.addRequest("r", { promptTokenIds: prompt }, samplingParams({ maxTokens: 1, ...params }));
  return drain(engine).get("r")!;
}

/** The whole vocabulary's prompt log-probs: whole[p] holds every token's log-prob as prompt token p. */
const whole = run({ promptLogprobs: -1 }).promptLogprobs!;

function assertMatchesWhole(matrix: number[][] | undefined, start: number): void {
  const rows = rowsFrom(start);
  assert.ok(matrix !== undefined);
  assert.is(matrix.length, rows.length);
  matrix.forEach((scores, i) => {
    assert.is(scores.length, 3, "each row is as wide as the widest");
    rows[i].forEach((id, j) => {
      if (id === -1) return assert.is(scores[j], -Infinity);
      const want = whole[start + i + 1]!.get(id)!.logprob;
      assert.ok(Math.abs(scores[j] - want) < 1e-5, `row ${i} token ${id}: ${scores[j]} vs ${want}`);
    });
  });
}

test("each row holds the requested tokens' prompt log-probs, -Infinity for padding", () => {
  assertMatchesWhole(run({ promptLogprobTokenIds: rowsFrom(0) }).promptTokenIdLogprobs, 0);
  assertMatchesWhole(run({ promptLogprobTokenIds: rowsFrom(9), promptLogprobStart: 9 }).promptTokenIdLogprobs, 9);
});

test("absent unless asked; prompt_logprobs alongside keeps both right", () => {
  assert.is(run({ promptLogprobs: 2 }).promptTokenIdLogprobs, undefined);
  const both = run({ promptLogprobTokenIds: rowsFrom(5), promptLogprobStart: 5, promptLogprobs: -1 });
  assertMatchesWhole(both.promptTokenIdLogprobs, 5);
  assert.is(both.promptLogprobs!.length, prompt.length);
  both.promptLogprobs!.forEach((position, p) => assert.is(position?.get(prompt[p])?.logprob, whole[p]?.get(prompt[p])?.logprob));
});

test("chunked prefill and a cached prefix change nothing", () => {
  const params = { promptLogprobTokenIds: rowsFrom(3), promptLogprobStart: 3 };
  assertMatchesWhole(run(params, { maxNumBatchedTokens: 4 }).promptTokenIdLogprobs, 3);
  const engine = makeTestEngine({ maxLogprobs: -1, enablePrefixCaching: true, blockSize: 4 });
  engine.addRequest("warm", { promptTokenIds: prompt }, samplingParams({ maxTokens: 1 }));
  drain(engine);
  engine.addRequest("r", { promptTokenIds: prompt }, samplingParams({ maxTokens: 1, ...params }));
  assertMatchesWhole(drain(engine).get("r")!.promptTokenIdLogprobs, 3);
});

test("bad prompt_logprob_token_ids and prompt_logprob_start are refused naming the field", () => {
  const engine = makeTestEngine({ maxLogprobs: 2 });
  const bad: [Partial<SamplingParams>, string][] = [
    [{ promptLogprobTokenIds: rowsFrom(1) }, "prompt_logprob_token_ids"],
    [{ promptLogprobTokenIds: [...rowsFrom(0), [1]] }, "prompt_logprob_token_ids"],
    [{ promptLogprobTokenIds: rowsFrom(0).map(() => [1, 2, 3]) }, "prompt_logprob_token_ids"],
    [{ promptLogprobTokenIds: rowsFrom(0).map(() => [testTokenizer.vocabSize]) }, "prompt_logprob_token_ids"],
    [{ promptLogprobTokenIds: rowsFrom(0).map(() => [-2]) }, "prompt_logprob_token_ids"],
    [{ promptLogprobTokenIds: [], promptLogprobStart: prompt.length }, "prompt_logprob_start"],
    [{ promptLogprobTokenIds: rowsFrom(0), promptLogprobStart: -1 }, "prompt_logprob_start"],
  ];
  for (const [params, field] of bad) {
    try {
      engine.addRequest("bad", { promptTokenIds: prompt }, samplingParams(params));
      assert.unreachable(`accepted ${JSON.stringify(params)}`);
    } catch (error) {
      assert.instance(error, TsvllmError);
      assert.is((error as TsvllmError).param, field);
    }
  }
});

test.run();
