// Sequence classifiers (LlamaForSequenceClassification checkpoints, LLM.classify), as vLLM's
// classify runner serves them: the prompt's last hidden state through the `score` head, softmaxed
// over the labels (a sigmoid for one label). The oracles are independent of the head code: on
// stories260K (an LM head tied to the embedding table) a head made of embedding rows gives the
// generative model's own logits at those token ids, whose float64 softmax the probabilities must
// equal; a random one-label head is checked against the hidden state the embedding path returns
// unnormalized. A batch and 16-token chunks give each prompt's probabilities alone; wrong tasks,
// requests and checkpoints are refused with errors that name what is wrong.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LLM } from "../../index.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { tensorToF32 } from "../../runtime/loader/convert.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { loadCompiledModel } from "../../runtime/model/model-loader.ts";
import { SingleSequence } from "../support/model-driver.ts";
import { pickRows, writeClassifierCheckpoint } from "../support/classifier-checkpoint.ts";

const stories = "../shared/models/stories260K-hf";
const workDir = mkdtempSync(join(tmpdir(), "tsvllm-classify-"));
const options = { logger: () => {}, loadModel: loadCompiledModel, maxModelLen: 128 };
const prompts = ["Once upon a time", "The little dog and then they played", "Lily and Ben", "One day, a girl and then they played and then they played", "Tom was sad", "Mom said"];
const labelIds = [5, 17, 300];
const hidden = 64;

const softmax = (xs: readonly number[]) => {
  const max = Math.max(...xs);
  const exps = xs.map((x) => Math.exp(x - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
};
const maxDiff = (a: readonly number[], b: readonly number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

async function expectError(run: () => Promise<unknown>, check: (error: TsvllmError) => void): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert.instance(error, TsvllmError);
    check(error as TsvllmError);
    return;
  }
  assert.unreachable("expected a TsvllmError");
}

const loaded = await loadModel(stories);
const embedTokens = tensorToF32(loaded.tensors.get("model.embed_tokens.weight")!);
const threeLabels = writeClassifierCheckpoint(stories, join(workDir, "three"), {
  head: pickRows(embedTokens, hidden, labelIds),
  config: { num_labels: 3, id2label: { "0": "negative", "1": "neutral", "2": "positive" } },
});
// A reward model's one logit; a fixed pseudo-random head.
const rewardHead = Float32Array.from({ length: hidden }, (_, k) => Math.sin(k * 12.9898 + 1) * 0.3);
const oneLabel = writeClassifierCheckpoint(stories, join(workDir, "one"), { head: rewardHead, config: { num_labels: 1 } });

const twin = createModelRunner(loaded, { maxNumBatchedTokens: 128, threads: 1 });
twin.initializeKvCache(16, 16);

/** The generative model's logits at the last prompt position, for the label token ids. */
function twinLogits(promptTokenIds: readonly number[]): number[] {
  const logits = new SingleSequence(twin, 16, 16).feed(promptTokenIds, false);
  return labelIds.map((id) => logits[id]);
}

test("a LlamaForSequenceClassification checkpoint classifies by default: the softmax of the generative twin's logits at the head's token ids", async () => {
  const llm = await LLM.create({ model: threeLabels, ...options });
  assert.equal(llm.engine.classifier?.labels, ["negative", "neutral", "positive"]);
  const classified = await llm.classify(prompts.slice(0, 3));
  const raw = await llm.classify(prompts.slice(0, 3), { useActivation: false });
  llm.close();
  classified.forEach(({ promptTokenIds, outputs }, i) => {
    const logits = twinLogits(promptTokenIds);
    const scale = Math.max(...logits.map(Math.abs));
    assert.ok(maxDiff(raw[i].outputs.probs, logits) / scale < 1e-5, `prompt ${i}: useActivation false gives the head's logits`);
    assert.ok(maxDiff(outputs.probs, softmax(logits)) < 1e-5, `prompt ${i}: ${outputs.probs} against ${softmax(logits)}`);
    assert.ok(Math.abs(outputs.probs.reduce((a, b) => a + b, 0) - 1) < 1e-12, "probabilities sum to 1");
  });
});

test("a batch, and 16-token steps, give each prompt's probabilities alone", async () => {
  const alone = await LLM.create({ model: threeLabels, ...options });
  const expected: number[][] = [];
  for (const p of prompts) expected.push((await alone.classify(p))[0].outputs.probs);
  alone.close();
  for (const extra of [{}, { maxNumBatchedTokens: 16 }]) {
    const llm = await LLM.create({ model: threeLabels, ...options, ...extra });
    (await llm.classify(prompts)).forEach((o, i) => assert.ok(maxDiff(o.outputs.probs, expected[i]) < 1e-6, `prompt ${i}${"maxNumBatchedTokens" in extra ? " in 16-token steps" : ""}`));
    assert.is(llm.stats().kvCacheUsagePerc, 0);
    llm.close();
  }
});

test("a one-label model (a reward model) gives the sigmoid of its logit over the unnormalized last hidden state", async () => {
  const embedder = await LLM.create({ model: stories, task: "embed", poolerConfig: { normalize: false }, ...options });
  const states = (await embedder.embed(prompts)).map((o) => o.outputs.embedding);
  embedder.close();
  const llm = await LLM.create({ model: oneLabel, task: "classify", ...options });
  assert.equal(llm.engine.classifier?.labels, ["LABEL_0"]);
  (await llm.classify(prompts)).forEach(({ outputs }, i) => {
    const logit = states[i].reduce((sum, h, k) => sum + h * rewardHead[k], 0);
    assert.is(outputs.probs.length, 1);
    assert.ok(Math.abs(outputs.probs[0] - 1 / (1 + Math.exp(-logit))) < 1e-12, `prompt ${i}`);
  });
  llm.close();
});

test("problem_type picks vLLM's activation: regression keeps the logits, multi-label takes each one's sigmoid", async () => {
  const raw = await LLM.create({ model: threeLabels, ...options });
  const logits = (await raw.classify(prompts.slice(0, 2), { useActivation: false })).map((o) => o.outputs.probs);
  raw.close();
  for (const [problemType, activation] of [["regression", (x: number) => x], ["multi_label_classification", (x: number) => 1 / (1 + Math.exp(-x))]] as const) {
    const dir = writeClassifierCheckpoint(stories, join(workDir, problemType), { head: pickRows(embedTokens, hidden, labelIds), config: { num_labels: 3, problem_type: problemType } });
    const llm = await LLM.create({ model: dir, ...options });
    (await llm.classify(prompts.slice(0, 2))).forEach((o, i) => assert.ok(maxDiff(o.outputs.probs, logits[i].map(activation)) < 1e-12, `${problemType}, prompt ${i}`));
    llm.close();
  }
});

test("a checkpoint without score.weight, or task classify on a CausalLM, is refused naming the file and the tensor", async () => {
  const headless = writeClassifierCheckpoint(stories, join(workDir, "headless"), { head: null, config: { num_labels: 2 } });
  for (const [model, task] of [[headless, undefined], [stories, "classify"]] as const) {
    await expectError(() => LLM.create({ model, task, ...options }), (error) => {
      assert.is(error.code, "TSVLLM_ERR_MODEL_FILE");
      assert.match(error.message, join(model, "model.safetensors"));
      assert.match(error.message, "\"score.weight\" not found");
    });
  }
});

test("a classifier refuses tasks generate and embed, embeddings, and scores unless it has one label; an embedding model refuses classify", async () => {
  for (const task of ["generate", "embed"] as const) {
    await expectError(() => LLM.create({ model: threeLabels, task, ...options }), (error) => {
      assert.is(error.param, "task");
      assert.match(error.message, "runs as task \"classify\"");
    });
  }
  const classifier = await LLM.create({ model: threeLabels, ...options });
  await expectError(() => classifier.embed("Once upon a time"), (error) => assert.is(error.param, "task"));
  await expectError(() => classifier.generate("Once upon a time"), (error) => assert.is(error.param, "task"));
  await expectError(() => classifier.score("Once", "upon"), (error) => assert.is(error.message, "Score API is only enabled for num_labels == 1."));
  classifier.close();
  const reward = await LLM.create({ model: oneLabel, ...options });
  await expectError(() => reward.score([{ promptTokenIds: [1, 2] }], "upon"), (error) => assert.is(error.param, "text_1"));
  reward.close();
  const embedder = await LLM.create({ model: stories, task: "embed", ...options });
  await expectError(() => embedder.classify("Once upon a time"), (error) => {
    assert.is(error.param, "task");
    assert.match(error.message, "task \"classify\"");
  });
  embedder.close();
});

test("a one-label classifier is a cross-encoder: each pair, encoded with the tokenizer's pair template, scores its sigmoid", async () => {
  const reward = await LLM.create({ model: oneLabel, ...options });
  const tokenizer = reward.tokenizer;
  const [query, documents] = ["Once upon a time", ["there was a little girl", "Tom was sad", "the dog ran"]];
  // The pair template (stories260K's TemplateProcessing) puts the query, with its BOS, before the document.
  const pair = tokenizer.encodePair!(query, documents[0]);
  assert.equal(pair.slice(0, tokenizer.encode(query).length), tokenizer.encode(query));
  assert.ok(pair.length > tokenizer.encode(query).length + 1);
  const scores = await reward.score(query, documents);
  const alone = await reward.classify(documents.map((d) => ({ promptTokenIds: tokenizer.encodePair!(query, d) })));
  scores.forEach((s, i) => {
    assert.equal(s.promptTokenIds, tokenizer.encodePair!(query, documents[i]));
    assert.is(s.outputs.score, alone[i].outputs.probs[0]);
    assert.ok(s.outputs.score > 0 && s.outputs.score < 1, "a sigmoid");
  });
  assert.ok(new Set(scores.map((s) => s.outputs.score)).size === documents.length, "the documents score differently");
  const [swapped] = await reward.score(documents[0], query);
  assert.not.equal(swapped.outputs.score, scores[0].outputs.score, "the pair is ordered");
  reward.close();
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));
test.run();
