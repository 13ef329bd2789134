// Models whose layers differ from LLaMA's in how a step's tokens meet, through the engine (tiny
// random f32 models; their forward passes are held to llama.cpp by architectures.test.ts): a batch
// of 16 varied prompts generated together, greedy, gives token for token what each gives alone,
// also with 16-token chunked prefill and with a KV cache small enough to preempt, every block free
// at the end.
//   - Sparse mixture-of-experts (Mixtral, Qwen2-MoE with its shared expert, Qwen3-MoE): the MoE
//     kernels gather a step's tokens per expert, so this is where a token's experts would see its
//     neighbours if they could.
//   - Gemma-3: a 16-token window on its sliding layer (prompt and answer reach past 32 tokens, so
//     windows start mid-block and move across blocks as a sequence grows, is preempted and is
//     recomputed) beside a global layer with another RoPE table.
//   - GPT-OSS: both at once (a sliding layer beside a global one, and biased experts), with
//     attention sinks in every softmax.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { LLM } from "../../runtime/engine/llm.ts";
import type { SamplingParams } from "../../runtime/engine/types.ts";
import { loadCompiledModel } from "../../runtime/model/model-loader.ts";

const starts = ["Once upon a time", "The little dog", "Lily and Ben", "One day, a girl", "Tom was sad", "The sun was hot", "A big red ball", "Mom said"];
const prompts = Array.from({ length: 16 }, (_, i) => `${starts[i % 8]}${" and then".repeat(i % 3)}${i % 2 ? "," : ""}`);
const greedy: Partial<SamplingParams> = { temperature: 0, maxTokens: 16, ignoreEos: true };
const options = { maxNumSeqs: 16, maxNumBatchedTokens: 128, maxModelLen: 64, logger: () => {}, loadModel: loadCompiledModel };

for (const arch of ["mixtral", "qwen2_moe", "qwen3_moe", "gemma3", "gpt_oss"] as const) {
  const test = suite(`${arch}: batch invariance through the engine`);
  const dir = mkdtempSync(join(tmpdir(), `tsvllm-${arch}-`));
  const model = writeRandomModel({ arch, outDir: dir, seed: 3, dtype: "f32" }).hfDir;
  let alone: number[][];

  test.before(async () => {
    const llm = await LLM.create({ model, ...options });
    alone = [];
    for (const p of prompts) alone.push((await llm.generate(p, greedy))[0].outputs[0].tokenIds);
    llm.close();
    assert.ok(new Set(alone.map((t) => t.join(","))).size > 8, "the prompts give different answers");
  });
  test.after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, extra, preempts] of [
    ["together", {}, false],
    ["with 16-token chunked prefill", { maxNumBatchedTokens: 16 }, false],
    ["with a 12-block KV cache (preempting)", { numGpuBlocksOverride: 12 }, true],
  ] as const) {
    test(`16 prompts ${name} equal each alone`, async () => {
      const llm = await LLM.create({ model, ...options, ...extra });
      const together = await llm.generate(prompts, greedy);
      together.forEach((out, i) => assert.equal(out.outputs[0].tokenIds, alone[i], `prompt ${i}: ${prompts[i]}`));
      if (preempts) assert.ok(llm.stats().numPreemptions > 0, "the small cache forced preemptions");
      assert.is(llm.stats().kvCacheUsagePerc, 0);
      llm.close();
    });
  }
  test.run();
}
