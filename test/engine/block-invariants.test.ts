// No leaks, whatever happens: a long random mix of arrivals (shared prefixes, n > 1, stop
// strings), finishes, aborts and preemptions (recompute or swap) under a tiny KV cache, checking after every step
// that each block is free or held by exactly its live owners, and that all are free at the end.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { samplingParams } from "../../runtime/engine/types.ts";
import { checkBlockInvariants, drain, makeTestEngine, randomPrompts } from "../support/engine-harness.ts";
import { seededRandom } from "../support/engine-random.ts";

for (const [name, policy, seed, preemptionMode] of [["fcfs", "fcfs", 1, "recompute"], ["priority", "priority", 2, "recompute"], ["fcfs, swap", "fcfs", 3, "swap"], ["priority, swap", "priority", 4, "swap"]] as const) {
  test(`random finish/abort/preemption mix keeps every block accounted for (${name})`, () => {
    const rand = seededRandom(seed * 7717);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const prefixes = randomPrompts(3, seed, 9, 20);
    // Six swap blocks (the reference model's 4-token blocks are 512 bytes): some victims swap, others recompute.
    const engine = makeTestEngine({ numGpuBlocksOverride: 24, blockSize: 4, maxModelLen: 64, maxNumBatchedTokens: 20, maxNumSeqs: 8, schedulingPolicy: policy, preemptionMode, swapSpace: (6 * 512) / 2 ** 30 });
    let added = 0;
    let aborted = 0;
    const finished = new Set<string>();
    for (let iteration = 0; iteration < 400; iteration++) {
      if (rand() < 0.35) {
        const tail = randomPrompts(1, iteration + seed * 1000, 1, 12)[0];
        const params = samplingParams({
          n: pick([1, 1, 2, 3]),
          maxTokens: 1 + Math.floor(rand() * 20),
          temperature: pick([0, 1]),
          seed: iteration,
          stop: rand() < 0.2 ? ["a", "e"] : [],
          logprobs: rand() < 0.2 ? 2 : null,
        });
        engine.addRequest(`r${added++}`, { promptTokenIds: [...pick(prefixes), ...tail] }, params, { priority: Math.floor(rand() * 3) });
      }
      const live = engine.liveRequests();
      if (live.length > 0 && rand() < 0.08) {
        const victim = pick(live).requestId;
        assert.ok(engine.abortRequest(victim)?.finished);
        finished.add(victim);
        aborted++;
        checkBlockInvariants(engine);
      }
      for (const output of engine.step()) if (output.finished) finished.add(output.requestId);
      checkBlockInvariants(engine);
    }
    for (const id of drain(engine).keys()) finished.add(id);
    const stats = engine.stats();
    assert.ok(stats.numPreemptions > 0, "the mix must include preemptions");
    if (preemptionMode === "swap") assert.ok(engine.scheduler.numSwapOuts > 0, "and swaps");
    assert.is(engine.kvCacheManager.swapSpace.numFreeBlocks, engine.kvCacheManager.swapSpace.numBlocks);
    assert.ok(aborted > 0);
    assert.ok(stats.prefixCacheHits > 0, "shared prefixes hit the cache");
    assert.is(finished.size, added);
    assert.is(engine.kvCacheManager.numFreeBlocks, engine.kvCacheManager.numBlocks);
    for (let b = 0; b < engine.kvCacheManager.numBlocks; b++) assert.is(engine.kvCacheManager.refCount(b), 0);
  });
}

test.run();
