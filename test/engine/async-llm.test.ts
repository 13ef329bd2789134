// AsyncLLM as the server uses it: streams of cumulative outputs, aborts that free blocks at once,
// input errors with stable codes, an event loop that stays responsive and goes idle.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AsyncLLM } from "../../runtime/engine/async-llm.ts";
import type { EngineArgs } from "../../runtime/engine/config.ts";
import { samplingParams, type RequestOutput } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { checkBlockInvariants, makeTestEngine, randomPrompts } from "../support/engine-harness.ts";

const prompts = randomPrompts(8, 9, 5, 30);
const greedy = samplingParams({ temperature: 0, maxTokens: 12, ignoreEos: true });

function makeClient(config: EngineArgs = {}): AsyncLLM {
  return new AsyncLLM(makeTestEngine(config), "reference");
}

async function collect(stream: AsyncIterable<RequestOutput>): Promise<RequestOutput[]> {
  const outputs: RequestOutput[] = [];
  for await (const output of stream) outputs.push(output);
  return outputs;
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).code, code);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test("streams cumulative outputs ending in one finished output equal to offline generation", async () => {
  const client = makeClient();
  const streams = prompts.map((p, i) => collect(client.generate({ promptTokenIds: p }, greedy, { requestId: `s${i}` })));
  const results = await Promise.all(streams);
  const offline = makeTestEngine();
  for (const [i, outputs] of results.entries()) {
    const last = outputs[outputs.length - 1];
    assert.ok(last.finished);
    assert.is(outputs.filter((o) => o.finished).length, 1);
    for (let k = 1; k < outputs.length; k++) assert.ok(outputs[k].outputs[0].tokenIds.length >= outputs[k - 1].outputs[0].tokenIds.length);
    offline.addRequest("x", { promptTokenIds: prompts[i] }, greedy);
    let final: RequestOutput | undefined;
    while (offline.hasUnfinishedRequests()) for (const o of offline.step()) if (o.finished) final = o;
    assert.equal(last.outputs[0].tokenIds, final?.outputs[0].tokenIds);
    const m = last.metrics;
    assert.ok(m.firstScheduledTime !== null && m.firstTokenTime !== null && m.lastTokenTime !== null && m.finishedTime !== null);
    assert.ok(m.arrivalTime <= m.firstScheduledTime && m.firstScheduledTime <= m.firstTokenTime && m.firstTokenTime <= m.lastTokenTime && m.lastTokenTime <= m.finishedTime);
  }
  const stats = client.stats();
  assert.is(stats.numRequestsRunning, 0);
  assert.is(stats.generationTokens, prompts.length * 12);
  assert.is(stats.promptTokens, prompts.reduce((s, p) => s + p.length, 0));
  assert.is(stats.kvCacheUsagePerc, 0);
  await client.shutdown();
});

test("abort frees the request's blocks at once and ends its stream with finishReason abort", async () => {
  const client = makeClient();
  const controller = new AbortController();
  const stream = client.generate({ promptTokenIds: prompts[0] }, samplingParams({ maxTokens: 200, ignoreEos: true }), { requestId: "a", signal: controller.signal });
  const other = collect(client.generate({ promptTokenIds: prompts[1] }, greedy, { requestId: "b" }));
  const seen: RequestOutput[] = [];
  for await (const output of stream) {
    seen.push(output);
    if (seen.length === 3) {
      const kv = client.engine.kvCacheManager;
      const before = kv.numFreeBlocks;
      const held = client.engine.liveRequests().find((r) => r.requestId === "a")?.sequences[0].blockTable.length ?? 0;
      assert.ok(held > 0);
      controller.abort();
      assert.is(kv.numFreeBlocks, before + held, "freed synchronously inside abort()");
      checkBlockInvariants(client.engine);
    }
  }
  const last = seen[seen.length - 1];
  assert.ok(last.finished);
  assert.is(last.outputs[0].finishReason, "abort");
  assert.ok((await other)[0] !== undefined, "the other request is unaffected");
  await client.shutdown();
});

test("leaving the loop early cancels the request", async () => {
  const client = makeClient();
  for await (const output of client.generate({ promptTokenIds: prompts[2] }, samplingParams({ maxTokens: 500, ignoreEos: true }), { requestId: "brk" })) {
    if (output.outputs[0].tokenIds.length >= 2) break;
  }
  assert.is(client.engine.numUnfinishedRequests, 0);
  assert.is(client.engine.kvCacheManager.numFreeBlocks, client.engine.kvCacheManager.numBlocks);
  await client.shutdown();
});

test("an already aborted signal yields one aborted output", async () => {
  const client = makeClient();
  const outputs = await collect(client.generate({ promptTokenIds: prompts[3] }, greedy, { requestId: "pre", signal: AbortSignal.abort() }));
  assert.is(outputs.length, 1);
  assert.is(outputs[0].outputs[0].finishReason, "abort");
  await client.shutdown();
});

test("bad input fails synchronously with stable error codes", async () => {
  const client = makeClient({ maxModelLen: 64, maxWaitingRequests: 2 });
  expectCode(() => client.generate({ promptTokenIds: Array(65).fill(5) }, greedy, { requestId: "long" }), "TSVLLM_ERR_PROMPT_TOO_LONG");
  expectCode(() => client.generate({ promptTokenIds: [5, 100000] }, greedy, { requestId: "vocab" }), "TSVLLM_ERR_INVALID_ARGUMENT");
  expectCode(() => client.generate({ promptTokenIds: [] }, greedy, { requestId: "empty" }), "TSVLLM_ERR_INVALID_ARGUMENT");
  expectCode(() => client.generate({ promptTokenIds: [5] }, samplingParams({ topP: 0 }), { requestId: "topp" }), "TSVLLM_ERR_INVALID_ARGUMENT");
  const a = collect(client.generate({ promptTokenIds: [5] }, greedy, { requestId: "q1" }));
  const b = collect(client.generate({ promptTokenIds: [6] }, greedy, { requestId: "q2" }));
  expectCode(() => client.generate({ promptTokenIds: [7] }, greedy, { requestId: "q3" }), "TSVLLM_ERR_QUEUE_FULL");
  expectCode(() => client.generate({ promptTokenIds: [7] }, greedy, { requestId: "q1" }), "TSVLLM_ERR_INVALID_ARGUMENT");
  await Promise.all([a, b]);
  await client.shutdown();
  expectCode(() => client.generate({ promptTokenIds: [7] }, greedy, { requestId: "late" }), "TSVLLM_ERR_ABORTED");
});

test("the step loop yields to the event loop and goes idle when nothing is queued", async () => {
  const client = makeClient();
  let steps = 0;
  const step = client.engine.step.bind(client.engine);
  client.engine.step = () => {
    steps++;
    return step();
  };
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  await collect(client.generate({ promptTokenIds: prompts[4] }, samplingParams({ temperature: 0, maxTokens: 60, ignoreEos: true }), { requestId: "t" }));
  const stepsAtEnd = steps;
  await new Promise((resolve) => setTimeout(resolve, 30));
  clearInterval(timer);
  assert.ok(ticks > 0, "timers ran while generating");
  assert.is(steps, stepsAtEnd, "no steps once idle");
  await client.shutdown();
});

test("a failing model step fails every live request and frees all blocks", async () => {
  const client = makeClient();
  const stream = collect(client.generate({ promptTokenIds: prompts[5] }, greedy, { requestId: "boom" }));
  client.engine.runner.execute = () => {
    throw new Error("device lost");
  };
  let caught: unknown = null;
  await stream.catch((error: unknown) => (caught = error));
  assert.instance(caught, Error);
  assert.is((caught as Error).message, "device lost");
  assert.is(client.engine.kvCacheManager.numFreeBlocks, client.engine.kvCacheManager.numBlocks);
  assert.is(client.engine.numUnfinishedRequests, 0);
});

test.run();
