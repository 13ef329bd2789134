// Speculative decoding with a draft model (runtime/engine/draft-model.ts) on the compiled
// stories260K: outputs equal those without drafts, greedy and seeded; with the target as its own
// draft model nearly every draft is accepted, which holds only if the draft model's KV cache (its
// own blocks under the target's block tables, caught up before each proposal and recomputed after
// a preemption) is right: also with 16-token steps, whose catch-ups span several draft passes, and
// with a KV cache small enough to preempt. A different model (random weights, same vocabulary)
// drafts worse but leaves the outputs as they were.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LLM } from "../../index.ts";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { resolveSpeculativeConfig } from "../../runtime/engine/speculative.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { speculativeConfigFlag } from "../../cli/engine-options.ts";

const model = "../shared/models/stories260K-hf";
const starts = ["Once upon a time", "The little dog", "Lily and Ben", "One day, a girl", "Tom was sad", "The sun was hot", "A big red ball", "Mom said"];
const prompts = Array.from({ length: 16 }, (_, i) => `${starts[i % 8]}${" and then".repeat(i % 3)}${i % 2 ? "," : ""}`);
const greedy = { maxTokens: 40, temperature: 0 };
const seeded = prompts.map((_, i) => ({ maxTokens: 40, temperature: 0.8, topP: 0.95, seed: i + 1 }));
const workDir = mkdtempSync(join(tmpdir(), "tsvllm-draft-"));
const otherDraft = writeRandomModel({ arch: "llama", outDir: join(workDir, "draft"), seed: 7, dtype: "f32" }).hfDir;

type Params = typeof greedy | typeof seeded;
const tokens = async (llm: LLM, params: Params) => (await llm.generate(prompts, params)).map((o) => o.outputs[0].tokenIds);
let plain: { greedy: number[][]; seeded: number[][] };

test.before(async () => {
  const llm = await LLM.create({ model, logger: () => {} });
  plain = { greedy: await tokens(llm, greedy), seeded: await tokens(llm, seeded) };
  llm.close();
});
test.after(() => rmSync(workDir, { recursive: true, force: true }));

for (const [name, extra, preempts] of [
  ["", {}, false],
  [" in 16-token steps", { maxNumBatchedTokens: 16 }, false],
  [" with a 12-block KV cache (preempting)", { numGpuBlocksOverride: 12, maxModelLen: 96 }, true],
] as const) {
  test(`the target as its own draft model${name}: the outputs without drafts, nearly every draft accepted`, async () => {
    const llm = await LLM.create({ model, speculativeConfig: { model, numSpeculativeTokens: 4 }, logger: () => {}, ...extra });
    assert.equal(await tokens(llm, greedy), plain.greedy);
    // Greedy drafts of the target itself are its own greedy choices.
    const stats = llm.stats();
    console.log(`  self-draft${name}: ${stats.specDecodeNumAcceptedTokens} of ${stats.specDecodeNumDraftTokens} drafts accepted, ${stats.numPreemptions} preemptions`);
    if (preempts) assert.ok(stats.numPreemptions > 0, "the small cache forced preemptions");
    assert.ok(stats.specDecodeNumDraftTokens > 200, `${stats.specDecodeNumDraftTokens} drafts`);
    assert.ok(stats.specDecodeNumAcceptedTokens >= 0.95 * stats.specDecodeNumDraftTokens, `${stats.specDecodeNumAcceptedTokens} of ${stats.specDecodeNumDraftTokens} drafts accepted`);
    assert.equal(await tokens(llm, seeded), plain.seeded);
    assert.is(llm.stats().kvCacheUsagePerc, 0);
    llm.close();
  });
}

test("another draft model (random weights, the same vocabulary) drafts worse and leaves the outputs as they were", async () => {
  const llm = await LLM.create({ model, speculativeConfig: { model: otherDraft, numSpeculativeTokens: 3 }, logger: () => {} });
  assert.equal(await tokens(llm, greedy), plain.greedy);
  assert.equal(await tokens(llm, seeded), plain.seeded);
  const stats = llm.stats();
  assert.ok(stats.specDecodeNumDraftTokens > 0 && stats.specDecodeNumAcceptedTokens < 0.5 * stats.specDecodeNumDraftTokens, `${stats.specDecodeNumAcceptedTokens} of ${stats.specDecodeNumDraftTokens} accepted`);
  llm.close();
});

test("speculative_config names the draft model as vLLM's does, and refuses what cannot draft", () => {
  assert.is(resolveSpeculativeConfig(speculativeConfigFlag('{"model": "draft", "num_speculative_tokens": 3}')).method, "draft_model");
  assert.is(resolveSpeculativeConfig({ method: "draft_model", model: "draft", numSpeculativeTokens: 2 }).model, "draft");
  for (const [args, param] of [
    [{ method: "draft_model", numSpeculativeTokens: 2 }, "speculativeConfig.model"],
    [{ method: "ngram", model: "draft", numSpeculativeTokens: 2 }, "speculativeConfig.model"],
    [{ numSpeculativeTokens: 2 }, "speculativeConfig.method"],
  ] as const) {
    try {
      resolveSpeculativeConfig(args);
      assert.unreachable(`${JSON.stringify(args)} should be refused`);
    } catch (error) {
      assert.instance(error, TsvllmError);
      assert.is((error as TsvllmError).param, param);
    }
  }
});

test.run();
