// The model creator's sampling defaults (vLLM's --generation-config): generation_config.json's
// repetition_penalty, temperature, top_k, top_p, min_p and max_new_tokens, with overrides on top,
// become the defaults of LLM.generate without params; "vllm" keeps the engine's own.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { defaultSamplingParams } from "../../runtime/engine/generation-defaults.ts";
import { LLM } from "../../runtime/engine/llm.ts";
import { samplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { testSamplerAddon, testTokenizer } from "../support/engine-harness.ts";
import { ReferenceModelRunner } from "../support/engine-reference-model.ts";

const dir = mkdtempSync(join(tmpdir(), "tsvllm-generation-config-"));
const other = mkdtempSync(join(tmpdir(), "tsvllm-generation-config-other-"));
// A creator's file (Qwen-like, with keys vLLM does not read) and a second folder with other defaults.
writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ bos_token_id: 1, do_sample: true, temperature: 0, top_k: 20, top_p: 0.8, repetition_penalty: 1.05, max_new_tokens: 5, eos_token_id: [2] }));
writeFileSync(join(other, "generation_config.json"), JSON.stringify({ min_p: 0.1, max_new_tokens: 7 }));
test.after(() => [dir, other].forEach((d) => rmSync(d, { recursive: true, force: true })));

test("the sampling keys of generation_config.json become defaults; vllm, a folder, overrides", async () => {
  const creator = { temperature: 0, topK: 20, topP: 0.8, repetitionPenalty: 1.05, maxTokens: 5 };
  assert.equal(await defaultSamplingParams(dir), creator);
  assert.equal(await defaultSamplingParams(dir, "vllm"), {});
  assert.equal(await defaultSamplingParams(dir, other), { minP: 0.1, maxTokens: 7 });
  // vLLM updates the file's dict with the overrides, then drops the keys that are None.
  const { maxTokens: _, ...uncapped } = creator;
  assert.equal(await defaultSamplingParams(dir, "auto", { temperature: 0.5, max_new_tokens: null }), { ...uncapped, temperature: 0.5 });
  assert.equal(await defaultSamplingParams(null), {}, "a GGUF file has no generation config");
  assert.equal(await defaultSamplingParams(join(dir, "missing")), {}, "auto tolerates a folder without one");
  const missing = await defaultSamplingParams(dir, join(dir, "missing")).then(() => null, (e: TsvllmError) => e);
  assert.is(missing?.param, "generation-config");
  const wrong = await defaultSamplingParams(dir, "auto", { temperature: "hot" }).then(() => null, (e: TsvllmError) => e);
  assert.instance(wrong, TsvllmError);
  assert.is(wrong?.param, "temperature");
});

const common = { tokenizer: testTokenizer, samplerAddon: testSamplerAddon(), numGpuBlocksOverride: 64, logger: () => {} };
const runner = () => new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });

test("LLM.generate without params uses the creator's defaults; params given are taken over the engine's", async () => {
  const llm = await LLM.create({ model: dir, runner: runner(), ...common });
  assert.equal(llm.getDefaultSamplingParams(), samplingParams({ temperature: 0, topK: 20, topP: 0.8, repetitionPenalty: 1.05, maxTokens: 5 }));
  const [byDefault] = await llm.generate("once upon a time");
  const [explicit] = await llm.generate("once upon a time", { temperature: 0, topK: 20, topP: 0.8, repetitionPenalty: 1.05, maxTokens: 5 });
  assert.is(byDefault.outputs[0].tokenIds.length, 5);
  assert.equal(byDefault.outputs[0].tokenIds, explicit.outputs[0].tokenIds);
  const [given] = await llm.generate("once upon a time", { temperature: 0 });
  assert.is(given.outputs[0].tokenIds.length, 16, "the engine's default max_tokens, not the file's");
  const [chatted] = await llm.chat([{ role: "user", content: "hi" }]);
  assert.is(chatted.outputs[0].tokenIds.length, 5);
});

test("generationConfig vllm and overrideGenerationConfig", async () => {
  const plain = await LLM.create({ model: dir, runner: runner(), generationConfig: "vllm", ...common });
  assert.equal(plain.getDefaultSamplingParams(), samplingParams());
  const overridden = await LLM.create({ model: dir, runner: runner(), overrideGenerationConfig: { max_new_tokens: 3 }, ...common });
  assert.is((await overridden.generate("hello"))[0].outputs[0].tokenIds.length, 3);
});

test.run();
