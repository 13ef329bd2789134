// logprob_token_ids (vLLM's): each generated position carries the sampled token and exactly the
// requested tokens, in their order and ranked 1..k as vLLM numbers them, with the same raw
// log-probs the whole-vocabulary log-probs give; the tokens drawn do not change, nor do they
// depend on the rest of the batch; bad lists are refused naming the field.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { samplingParams, type PositionLogprobs, type SamplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { drain, makeTestEngine, randomPrompts, testTokenizer } from "../support/engine-harness.ts";

const [prompt, other] = randomPrompts(2, 505, 12, 20);
const requested = [7, 120, 3, 250, testTokenizer.vocabSize - 1];
const sampled: Partial<SamplingParams> = { temperature: 0.8, seed: 11, maxTokens: 8, ignoreEos: true };

function run(params: Partial<SamplingParams>, batched: boolean) {
  const engine = makeTestEngine({ maxLogprobs: -1 });
  engine.addRequest("r", { promptTokenIds: prompt }, samplingParams({ ...sampled, ...params }));
  if (batched) {
    engine.addRequest("top", { promptTokenIds: other }, samplingParams({ ...sampled, logprobs: 9 }));
    engine.addRequest("none", { promptTokenIds: prompt }, samplingParams({ ...sampled, seed: 3 }));
    engine.addRequest("ids", { promptTokenIds: other }, samplingParams({ ...sampled, logprobTokenIds: [5, 6] }));
  }
  return drain(engine).get("r")!.outputs[0];
}

const entries = (position: PositionLogprobs) => [...position.entries()].map(([id, e]) => [id, e.rank, e.logprob.toFixed(6)]);

test("each position holds the sampled token then the requested ones, with the whole vocabulary's log-probs", () => {
  const whole = run({ logprobs: -1 }, false);
  const out = run({ logprobTokenIds: requested }, false);
  assert.equal(out.tokenIds, whole.tokenIds, "asking for log-probs does not change the draws");
  assert.ok(out.logprobs !== null && whole.logprobs !== null && out.cumulativeLogprob !== null);
  out.logprobs.forEach((position, i) => {
    const token = out.tokenIds[i];
    const ids = [...position.keys()];
    assert.is(ids[0], token, "the sampled token comes first");
    assert.equal(ids.slice(1), requested.filter((id) => id !== token));
    assert.is(position.get(token)!.rank, whole.logprobs![i].get(token)!.rank, "the sampled token keeps its vocabulary rank");
    for (const [j, id] of requested.entries()) {
      const want = whole.logprobs![i].get(id)!.logprob;
      assert.ok(Math.abs(position.get(id)!.logprob - want) < 1e-5, `position ${i} token ${id}: ${position.get(id)!.logprob} vs ${want}`);
      if (id !== token) assert.is(position.get(id)!.rank, j + 1);
      assert.is(position.get(id)!.decodedToken, testTokenizer.tokenText(id));
    }
  });
  assert.ok(Math.abs(out.cumulativeLogprob - whole.cumulativeLogprob!) < 1e-4);
});

test("logprobs equal to the list's length is accepted and changes nothing; the batch changes nothing", () => {
  const alone = run({ logprobTokenIds: requested }, false);
  const counted = run({ logprobTokenIds: requested, logprobs: requested.length }, false);
  const batched = run({ logprobTokenIds: requested }, true);
  for (const out of [counted, batched]) {
    assert.equal(out.tokenIds, alone.tokenIds);
    assert.equal(out.logprobs!.map(entries), alone.logprobs!.map(entries));
  }
});

test("bad logprob_token_ids are refused naming the field", () => {
  const engine = makeTestEngine();
  const bad: Partial<SamplingParams>[] = [
    { logprobTokenIds: [] },
    { logprobTokenIds: Array.from({ length: 129 }, (_, i) => i) },
    { logprobTokenIds: [testTokenizer.vocabSize] },
    { logprobTokenIds: [-1] },
    { logprobTokenIds: [1, 2], logprobs: 3 },
  ];
  for (const params of bad) {
    try {
      engine.addRequest("bad", { promptTokenIds: prompt }, samplingParams(params));
      assert.unreachable(`accepted ${JSON.stringify(params)}`);
    } catch (error) {
      assert.instance(error, TsvllmError);
      assert.is((error as TsvllmError).param, "logprob_token_ids");
    }
  }
  engine.addRequest("most", { promptTokenIds: prompt }, samplingParams({ maxTokens: 1, logprobTokenIds: Array.from({ length: 128 }, (_, i) => i) }));
  const most = drain(engine).get("most")!.outputs[0];
  const position = most.logprobs![0];
  assert.is(position.size, most.tokenIds[0] < 128 ? 128 : 129);
  for (let id = 0; id < 128; id++) assert.ok(position.has(id));
});

test.run();
