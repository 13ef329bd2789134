// stream_interval (vLLM's): a streamed request's outputs go out at a choice's first token, then
// once some choice has the interval's count of new tokens, and when a choice finishes; the final
// output is the one an unthrottled stream ends with; a bad interval is refused naming the field.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AsyncLLM } from "../../runtime/engine/async-llm.ts";
import { StreamInterval } from "../../runtime/engine/stream-interval.ts";
import { samplingParams, type CompletionOutput, type RequestOutput } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { makeTestEngine, randomPrompts } from "../support/engine-harness.ts";

const [prompt] = randomPrompts(1, 21, 6, 6);

function output(choices: [number, CompletionOutput["finishReason"]][]): RequestOutput {
  const outputs = choices.map(([numTokens, finishReason], index): CompletionOutput => ({ index, text: "", tokenIds: Array(numTokens).fill(5), cumulativeLogprob: null, logprobs: null, finishReason, stopReason: null }));
  const finished = outputs.every((o) => o.finishReason !== null);
  return { requestId: "r", prompt: null, promptTokenIds: [], promptLogprobs: null, outputs, finished, metrics: { arrivalTime: 0, firstScheduledTime: null, firstTokenTime: null, lastTokenTime: null, finishedTime: null } };
}

test("outputs go out at first tokens, every interval's worth of new tokens, and at each finish", () => {
  const gate = new StreamInterval(3);
  const steps: [[number, CompletionOutput["finishReason"]], [number, CompletionOutput["finishReason"]]][] = [
    [[0, null], [0, null]],
    [[1, null], [1, null]],
    [[2, null], [2, null]],
    [[3, null], [3, null]],
    [[4, null], [4, null]],
    [[5, "stop"], [5, null]],
    [[5, "stop"], [6, null]],
    [[5, "stop"], [7, null]],
    [[5, "stop"], [8, null]],
    [[5, "stop"], [9, "length"]],
  ];
  assert.equal(steps.map((s) => gate.letThrough(output(s))), [false, true, false, false, true, true, false, false, true, true]);
});

test("AsyncLLM streams every interval's tokens and ends as an unthrottled stream does", async () => {
  const client = new AsyncLLM(makeTestEngine(), "reference");
  const params = { temperature: 0, maxTokens: 11, ignoreEos: true };
  const collect = async (streamInterval: number | null, requestId: string) => {
    const counts: number[] = [];
    let last: RequestOutput | null = null;
    for await (const out of client.generate({ promptTokenIds: prompt }, samplingParams({ ...params, streamInterval }), { requestId })) {
      counts.push(out.outputs[0].tokenIds.length);
      last = out;
    }
    return { counts, last: last! };
  };
  const every = await collect(null, "every");
  const throttled = await collect(4, "four");
  assert.equal(throttled.counts, [1, 5, 9, 11]);
  assert.equal(throttled.last.outputs[0].tokenIds, every.last.outputs[0].tokenIds);
  assert.is(throttled.last.finished, true);
  for (const bad of [0, 1.5]) {
    try {
      client.generate({ promptTokenIds: prompt }, samplingParams({ streamInterval: bad }), { requestId: `bad${bad}` });
      assert.unreachable();
    } catch (error) {
      assert.instance(error, TsvllmError);
      assert.is((error as TsvllmError).param, "stream_interval");
    }
  }
  await client.shutdown();
});

test("the engine's streamInterval (--stream-interval) is the default, and a request's own only raises it", async () => {
  const client = new AsyncLLM(makeTestEngine({ streamInterval: 4 }), "reference");
  const counts = async (streamInterval: number | null, requestId: string) => {
    const seen: number[] = [];
    const params = samplingParams({ temperature: 0, maxTokens: 11, ignoreEos: true, streamInterval });
    for await (const out of client.generate({ promptTokenIds: prompt }, params, { requestId })) seen.push(out.outputs[0].tokenIds.length);
    return seen;
  };
  assert.equal(await counts(null, "default"), [1, 5, 9, 11]);
  assert.equal(await counts(2, "below"), [1, 5, 9, 11], "clamped up to the engine's interval, as vLLM does");
  assert.equal(await counts(6, "above"), [1, 7, 11]);
  await client.shutdown();
  assert.throws(() => makeTestEngine({ streamInterval: 0 }), (error: unknown) => error instanceof TsvllmError && error.param === "streamInterval");
});

test.run();
