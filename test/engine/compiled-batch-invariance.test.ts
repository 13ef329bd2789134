// Batch invariance on the compiled stories260K model (not a test double): 64 varied prompts
// generated together, greedy, give token for token what each gives alone; also with chunked
// prefill (a 16-token budget) and with forced preemption (a KV cache of 40 blocks), by recompute
// or by swapping KV to host memory and back through the native model's swap space, and when the
// forward pass verifies n-gram drafts (several sampled rows per sequence).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { LLM } from "../../index.ts";

const test = suite("compiled model: batch invariance");
const model = "../shared/models/stories260K-hf";
const starts = ["Once upon a time", "The little dog", "Lily and Ben", "One day, a girl", "Tom was sad", "The sun was hot", "A big red ball", "Mom said"];
const prompts = Array.from({ length: 64 }, (_, i) => `${starts[i % 8]}${" and then".repeat(i % 5)}${i % 3 === 0 ? "," : ""}`);
const params = { maxTokens: 24, temperature: 0 };
let alone: number[][];

test.before(async () => {
  const llm = await LLM.create({ model, maxNumSeqs: 64, logger: () => {} });
  alone = [];
  for (const p of prompts) alone.push((await llm.generate(p, params))[0].outputs[0].tokenIds);
  llm.close();
});

for (const [name, options, preempts] of [
  ["all together", { maxNumSeqs: 64 }, false],
  ["chunked prefill (16-token budget)", { maxNumSeqs: 64, maxNumBatchedTokens: 16 }, false],
  ["forced preemption (40 KV blocks)", { maxNumSeqs: 64, numGpuBlocksOverride: 40 }, true],
  ["forced preemption swapping KV to host memory (40 KV blocks)", { maxNumSeqs: 64, numGpuBlocksOverride: 40, preemptionMode: "swap" }, true],
  ["verifying n-gram drafts (speculative decoding)", { maxNumSeqs: 64, speculativeConfig: { method: "ngram", numSpeculativeTokens: 4, promptLookupMax: 3, promptLookupMin: 1 } }, false],
] as const) {
  test(`64 prompts ${name} equal each alone`, async () => {
    const llm = await LLM.create({ model, ...options, logger: () => {} });
    const together = await llm.generate(prompts, params);
    together.forEach((out, i) => assert.equal(out.outputs[0].tokenIds, alone[i], `prompt ${i}: ${prompts[i]}`));
    if (preempts) assert.ok(llm.stats().numPreemptions > 0, "the small cache forced preemptions");
    const swapped = "preemptionMode" in options;
    assert.is(llm.engine.scheduler.numSwapOuts > 0, swapped, swapped ? "preempted sequences were swapped out" : "no swap without preemptionMode swap");
    if ("speculativeConfig" in options) assert.ok(llm.stats().specDecodeNumAcceptedTokens > 0, "drafts were accepted");
    assert.is(llm.stats().kvCacheUsagePerc, 0);
    llm.close();
  });
}

test("seeded sampled outputs with n-gram drafts equal those without", async () => {
  const sampled = prompts.slice(0, 16).map((_, i) => ({ maxTokens: 48, temperature: 0.6, topP: 0.9, seed: i + 1 }));
  const runs: number[][][] = [];
  for (const speculativeConfig of [undefined, { method: "ngram" as const, numSpeculativeTokens: 4, promptLookupMax: 3, promptLookupMin: 1 }]) {
    const llm = await LLM.create({ model, maxNumSeqs: 16, speculativeConfig, logger: () => {} });
    runs.push((await llm.generate(prompts.slice(0, 16), sampled)).map((o) => o.outputs[0].tokenIds));
    if (speculativeConfig) assert.ok(llm.stats().specDecodeNumAcceptedTokens > 0, "drafts were accepted");
    llm.close();
  }
  assert.equal(runs[1], runs[0]);
  assert.ok(new Set(runs[0].map((t) => t.join(","))).size > 8, "the samples differ");
});

test("the native swap space refuses pairs that name blocks outside the cache or itself", async () => {
  const llm = await LLM.create({ model, numGpuBlocksOverride: 40, preemptionMode: "swap", logger: () => {} });
  const runner = llm.engine.runner;
  const numSwapBlocks = llm.engine.kvCacheManager.swapSpace.numBlocks;
  assert.throws(() => runner.swapBlocks!(Int32Array.of(0, numSwapBlocks), new Int32Array(0)), /outside the cache's 40 or the swap space's/);
  assert.throws(() => runner.swapBlocks!(new Int32Array(0), Int32Array.of(0, 40)), /outside/);
  assert.throws(() => runner.swapBlocks!(Int32Array.of(0), new Int32Array(0)), /incomplete/);
  runner.swapBlocks!(Int32Array.of(39, numSwapBlocks - 1), Int32Array.of(numSwapBlocks - 1, 0));
  llm.close();
});

test.run();
