// The offline API: LLM.create with an injected runner or a loader hook, generate in input order
// with per-prompt params, chat through the template, beam search, and no leaks on errors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { beamSearchScore } from "../../runtime/engine/beam-search.ts";
import { LLM } from "../../runtime/engine/llm.ts";
import { setDefaultModelLoader } from "../../runtime/engine/model-loader.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { randomPrompts, testSamplerAddon, testTokenizer } from "../support/engine-harness.ts";
import { ReferenceModelRunner } from "../support/engine-reference-model.ts";

const common = { samplerAddon: testSamplerAddon(), numGpuBlocksOverride: 256, logger: () => {} };
const newRunner = () => new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });

test("generate returns one output per prompt, in input order, text and token prompts alike", async () => {
  const llm = await LLM.create({ model: "reference", runner: newRunner(), tokenizer: testTokenizer, ...common });
  const prompts = ["hello world", { promptTokenIds: [1, 40, 41, 42] }, "once upon a time"];
  const outputs = await llm.generate(prompts, [{ temperature: 0, maxTokens: 3 }, { temperature: 0, maxTokens: 5 }, { temperature: 0, maxTokens: 7 }]);
  assert.equal(outputs.map((o) => o.outputs[0].tokenIds.length), [3, 5, 7]);
  assert.is(outputs[0].prompt, "hello world");
  assert.equal(outputs[0].promptTokenIds, testTokenizer.encode("hello world"));
  assert.equal(outputs[1].promptTokenIds, [1, 40, 41, 42]);
  assert.is(outputs[1].prompt, null);
  assert.is(outputs[2].outputs[0].text, testTokenizer.decode(outputs[2].outputs[0].tokenIds));
  const [again] = await llm.generate("once upon a time", { temperature: 0, maxTokens: 7 });
  assert.equal(again.outputs[0].tokenIds, outputs[2].outputs[0].tokenIds);
});

test("LLM.create uses the registered loader when no runner is given", async () => {
  let loadedModel = "";
  const previous = setDefaultModelLoader(async (options) => {
    loadedModel = options.model;
    return { runner: newRunner(), tokenizer: testTokenizer };
  });
  try {
    const llm = await LLM.create({ model: "/models/reference", ...common });
    assert.is(loadedModel, "/models/reference");
    assert.is(llm.modelName, "/models/reference");
    assert.is((await llm.generate("hi", { maxTokens: 2 }))[0].outputs[0].tokenIds.length, 2);
  } finally {
    setDefaultModelLoader(previous);
  }
});

test("without any loader LLM.create fails with TSVLLM_ERR_INVALID_ARGUMENT", async () => {
  const previous = setDefaultModelLoader(null);
  try {
    await LLM.create({ model: "nowhere", ...common });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).code, "TSVLLM_ERR_INVALID_ARGUMENT");
  } finally {
    setDefaultModelLoader(previous);
  }
});

test("chat applies the template without a second BOS", async () => {
  const llm = await LLM.create({ model: "reference", runner: newRunner(), tokenizer: testTokenizer, ...common });
  const messages = [{ role: "user" as const, content: "hello" }];
  const [output] = await llm.chat(messages, { temperature: 0, maxTokens: 4 });
  assert.equal(output.promptTokenIds, testTokenizer.encode(testTokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }), { addSpecialTokens: false }));
  const batch = await llm.chat([messages, [{ role: "user", content: "bye" }]], { temperature: 0, maxTokens: 4 });
  assert.is(batch.length, 2);
  assert.equal(batch[0].outputs[0].tokenIds, output.outputs[0].tokenIds);
});

test("a failing step releases the whole batch's blocks and rethrows", async () => {
  const runner = newRunner();
  const llm = await LLM.create({ model: "reference", runner, tokenizer: testTokenizer, ...common });
  let calls = 0;
  const execute = runner.execute.bind(runner);
  runner.execute = (input) => {
    if (++calls === 3) throw new Error("kernel fault");
    return execute(input);
  };
  try {
    await llm.generate(randomPrompts(4, 1, 5, 9).map((p) => ({ promptTokenIds: p })), { maxTokens: 10 });
    assert.unreachable();
  } catch (error) {
    assert.is((error as Error).message, "kernel fault");
  }
  assert.is(llm.engine.numUnfinishedRequests, 0);
  assert.is(llm.engine.kvCacheManager.numFreeBlocks, llm.engine.kvCacheManager.numBlocks);
});

test("beam search with width 1 is greedy; wider beams score at least as well, best first", async () => {
  const llm = await LLM.create({ model: "reference", runner: newRunner(), tokenizer: testTokenizer, ...common });
  const prompt = { promptTokenIds: randomPrompts(1, 12, 20, 20)[0] };
  const [greedy] = await llm.generate(prompt, { temperature: 0, maxTokens: 6, ignoreEos: true, logprobs: 0 });
  const [one] = await llm.beamSearch(prompt, { beamWidth: 1, maxTokens: 6, ignoreEos: true });
  assert.equal(one.sequences[0].tokenIds, greedy.outputs[0].tokenIds);
  assert.ok(Math.abs(one.sequences[0].cumulativeLogprob - (greedy.outputs[0].cumulativeLogprob ?? 0)) < 1e-3);
  const [wide] = await llm.beamSearch(prompt, { beamWidth: 4, maxTokens: 6, ignoreEos: true, lengthPenalty: 1 });
  assert.is(wide.sequences.length, 4);
  const scores = wide.sequences.map((s) => s.score);
  assert.equal(scores, [...scores].sort((a, b) => b - a));
  assert.ok(scores[0] >= one.sequences[0].score - 1e-9);
  assert.is(wide.sequences[0].score, beamSearchScore([...prompt.promptTokenIds, ...wide.sequences[0].tokenIds], wide.sequences[0].cumulativeLogprob, [2], 1));
  assert.ok(llm.stats().prefixCacheHits > 0, "beams reuse their common prefix through the cache");
  assert.is(llm.engine.kvCacheManager.usage, 0);
});

test.run();
