// Embeddings from a pooling model (LLM.create({ task: "embed" }), LLM.embed): each prompt's
// embedding is its last token's final hidden state at unit length. The oracle is the generative
// model itself, whose logits are held to llama.cpp elsewhere: the LM head applied to the embedding
// must point the way the logits at the prompt's last position do (their ratio is the state's
// norm), on stories260K (its own LM head) and on a random Qwen2 (an LM head tied to the embedding
// table, which the pooling model must keep for its embedding). A batch, and 16-token chunks,
// give each prompt's embedding alone; a base-model checkpoint (no LM head, tensors without the
// "model." prefix) embeds by default as its CausalLM twin; generation and embedding requests go to
// the right kind of model.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LLM } from "../../index.ts";
import { writeSafetensors } from "../../models/random/safetensors-writer.ts";
import { writeRandomModel } from "../../models/random/write-random-model.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { tensorToF32 } from "../../runtime/loader/convert.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { loadCompiledModel } from "../../runtime/model/model-loader.ts";
import { SingleSequence } from "../support/model-driver.ts";
import { readSafetensors } from "../support/random-model-files.ts";

const workDir = mkdtempSync(join(tmpdir(), "tsvllm-embed-"));
const models = { "stories260K": "../shared/models/stories260K-hf", "qwen2 (tied LM head)": writeRandomModel({ arch: "qwen2", outDir: join(workDir, "qwen2"), seed: 4, dtype: "f32" }).hfDir };
const starts = ["Once upon a time", "The little dog", "Lily and Ben", "One day, a girl", "Tom was sad", "The sun was hot", "A big red ball", "Mom said"];
const prompts = Array.from({ length: 12 }, (_, i) => `${starts[i % 8]}${" and then they played".repeat(i % 4)}.`);
const options = { logger: () => {}, loadModel: loadCompiledModel, maxModelLen: 128 };

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

for (const [name, model] of Object.entries(models)) {
  test(`${name}: the LM head of each embedding points where the prompt's last logits do; unit length`, async () => {
    const llm = await LLM.create({ model, task: "embed", ...options });
    const embedded = await llm.embed(prompts.slice(0, 4));
    llm.close();
    const loaded = await loadModel(model);
    const c = loaded.config;
    const head = tensorToF32(loaded.tensors.get(c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight")!);
    const runner = createModelRunner(loaded, { maxNumBatchedTokens: 128, threads: 1 });
    runner.initializeKvCache(16, 16);
    for (const { promptTokenIds, outputs } of embedded) {
      const e = outputs.embedding;
      assert.is(e.length, c.hiddenSize);
      assert.ok(Math.abs(Math.hypot(...e) - 1) < 1e-9, "unit length");
      const logits = new SingleSequence(runner, 16, 16).feed(promptTokenIds, false);
      const projected = Array.from({ length: c.vocabSize }, (_, v) => e.reduce((sum, x, k) => sum + x * head[v * c.hiddenSize + k], 0));
      const norm = Math.hypot(...logits) / Math.hypot(...projected);
      const worst = maxDiff(projected.map((p) => p * norm), logits) / Math.max(...Array.from(logits, Math.abs));
      assert.ok(worst < 1e-5, `LM head of the embedding against the logits: ${worst} (relative)`);
    }
  });
}

test("a batch, and 16-token steps, give each prompt's embedding alone", async () => {
  const model = models.stories260K;
  const alone = await LLM.create({ model, task: "embed", ...options });
  const expected: number[][] = [];
  for (const p of prompts) expected.push((await alone.embed(p))[0].outputs.embedding);
  alone.close();
  for (const extra of [{}, { maxNumBatchedTokens: 16 }]) {
    const llm = await LLM.create({ model, task: "embed", ...options, ...extra });
    const together = await llm.embed(prompts);
    together.forEach((o, i) => assert.ok(maxDiff(o.outputs.embedding, expected[i]) < 1e-6, `prompt ${i}${"maxNumBatchedTokens" in extra ? " in 16-token steps" : ""}`));
    assert.is(llm.stats().kvCacheUsagePerc, 0);
    llm.close();
  }
});

test("a base-model checkpoint (MistralModel: no LM head, no model. prefix, as e5-mistral ships) embeds by default as its CausalLM twin does", async () => {
  const causal = writeRandomModel({ arch: "mistral", outDir: join(workDir, "mistral"), seed: 6, dtype: "f32" }).hfDir;
  const base = join(workDir, "mistral-base");
  cpSync(causal, base, { recursive: true });
  const config = JSON.parse(readFileSync(join(causal, "config.json"), "utf8"));
  writeFileSync(join(base, "config.json"), JSON.stringify({ ...config, architectures: ["MistralModel"] }));
  const tensors = [...readSafetensors(join(causal, "model.safetensors"))].filter(([name]) => name !== "lm_head.weight");
  writeSafetensors(join(base, "model.safetensors"), tensors.map(([name, t]) => ({ name: name.replace(/^model\./, ""), dtype: "f32", shape: t.shape, chunks: () => [new Uint8Array(t.values.buffer)] })));
  const twin = await LLM.create({ model: causal, task: "embed", ...options });
  const expected = (await twin.embed(prompts.slice(0, 3))).map((o) => o.outputs.embedding);
  twin.close();
  const llm = await LLM.create({ model: base, ...options });
  (await llm.embed(prompts.slice(0, 3))).forEach((o, i) => assert.ok(maxDiff(o.outputs.embedding, expected[i]) < 1e-6, `prompt ${i}`));
  llm.close();
  try {
    await LLM.create({ model: base, task: "generate", ...options });
    assert.unreachable("a base model has no LM head to generate with");
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).param, "task");
  }
});

test("a pooling model refuses generations and a generative one embeddings, naming the task", async () => {
  for (const task of ["embed", "generate"] as const) {
    const llm = await LLM.create({ model: models.stories260K, task, ...options });
    try {
      await (task === "embed" ? llm.generate("Once upon a time") : llm.embed("Once upon a time"));
      assert.unreachable(`task ${task} should refuse the other kind of request`);
    } catch (error) {
      assert.instance(error, TsvllmError);
      assert.is((error as TsvllmError).param, "task");
    } finally {
      llm.close();
    }
  }
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));
test.run();
