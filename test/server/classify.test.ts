// POST /classify on a sequence classifier made from stories260K (LlamaForSequenceClassification,
// three labels; served without --task, as vLLM serves it): vLLM's response shape with the offline
// LLM.classify probabilities, the argmax's id2label label and num_classes, for text and token-id
// inputs; use_activation false gives the raw logits. /invocations dispatches to it. A generative or
// embedding server refuses /classify, and the classifier embeddings, completions, scores and
// reranks, each with a 400 naming the task (scores with vLLM's num_labels message). A one-label
// classifier is a cross-encoder: /score and /rerank give the offline LLM.score of each pair.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AsyncLLM, LLM } from "../../index.ts";
import { createServer } from "../../server/app.ts";
import { listenWithClient, postJson } from "../support/server-harness.ts";
import { writeClassifierCheckpoint } from "../support/classifier-checkpoint.ts";
import { startPoolingServers, type PoolingServers } from "./pooling-servers.ts";

const test = suite("/classify");
const stories = "../shared/models/stories260K-hf";
const workDir = mkdtempSync(join(tmpdir(), "tsvllm-classify-server-"));
const hidden = 64;
const head = Float32Array.from({ length: 3 * hidden }, (_, k) => Math.cos(k * 7.31 + 0.5) * 0.4);
const model = writeClassifierCheckpoint(stories, join(workDir, "classifier"), { head, config: { num_labels: 3, id2label: { "0": "sad", "1": "calm", "2": "happy" } } });
const inputs = ["Once upon a time", "The little dog ran to the park.", "Lily and Ben were sad"];
const options = { maxNumSeqs: 8, maxModelLen: 256, logger: () => {} };
let classifier: AsyncLLM;
let base: string;
let others: PoolingServers;
let expected: number[][];
let closeClassifier: () => Promise<void>;

test.before(async () => {
  const offline = await LLM.create({ model, ...options });
  expected = (await offline.classify(inputs)).map((o) => o.outputs.probs);
  offline.close();
  classifier = await AsyncLLM.create({ model, ...options });
  const app = createServer({ engine: classifier, servedModelName: ["stories-classifier"] });
  ({ base } = await listenWithClient(app));
  closeClassifier = async () => {
    await app.close();
    await classifier.shutdown();
  };
  others = await startPoolingServers({ model: stories, ...options });
});
test.after(async () => {
  await closeClassifier?.();
  await others?.close();
  rmSync(workDir, { recursive: true, force: true });
});

const maxDiff = (a: readonly number[], b: readonly number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const argmax = (xs: readonly number[]) => xs.indexOf(Math.max(...xs));

test("vLLM's response: the offline probabilities, the argmax's label and num_classes, in input order", async () => {
  const { status, json } = await postJson(`${base}/classify`, { model: "stories-classifier", input: inputs });
  assert.is(status, 200);
  assert.match(json.id, /^classify-/);
  assert.is(json.object, "list");
  assert.is(json.model, "stories-classifier");
  assert.ok(Number.isInteger(json.created));
  assert.is(json.data.length, inputs.length);
  json.data.forEach((d: { index: number; label: string; probs: number[]; num_classes: number }, i: number) => {
    assert.is(d.index, i);
    assert.is(d.num_classes, 3);
    assert.ok(maxDiff(d.probs, expected[i]) < 1e-9, `input ${i}`);
    assert.is(d.label, ["sad", "calm", "happy"][argmax(expected[i])]);
  });
  const tokens = inputs.reduce((n, text) => n + classifier.tokenizer.encode(text).length, 0);
  assert.equal(json.usage, { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0 });
});

test("token ids classify like their text; use_activation false gives logits whose softmax is the probabilities", async () => {
  const ids = classifier.tokenizer.encode(inputs[1]);
  const byIds = await postJson(`${base}/classify`, { input: [ids] });
  assert.is(byIds.status, 200);
  assert.ok(maxDiff(byIds.json.data[0].probs, expected[1]) < 1e-9);
  const raw = await postJson(`${base}/classify`, { input: inputs[1], use_activation: false });
  const logits: number[] = raw.json.data[0].probs;
  const exps = logits.map((x) => Math.exp(x - Math.max(...logits)));
  const total = exps.reduce((a, b) => a + b, 0);
  assert.ok(maxDiff(exps.map((e) => e / total), expected[1]) < 1e-9);
  assert.ok(Math.abs(logits.reduce((a, b) => a + b, 0) - 1) > 1e-3, "raw logits are not probabilities");
});

test("/invocations serves a classification body; one that fits no classifier request names ClassificationRequest", async () => {
  const { status, json } = await postJson(`${base}/invocations`, { input: inputs[0] });
  assert.is(status, 200);
  assert.ok(maxDiff(json.data[0].probs, expected[0]) < 1e-9);
  const unknown = await postJson(`${base}/invocations`, { messages: [{ role: "user", content: "hi" }] });
  assert.is(unknown.status, 400);
  assert.is(unknown.json.error.message, "Cannot find suitable handler for request. Expected one of: ClassificationRequest.");
});

test("refusals: /classify from generative and embedding servers; embeddings, completions, scores and reranks from a classifier", async () => {
  for (const other of [others.generativeBase, others.base]) {
    const { status, json } = await postJson(`${other}/classify`, { input: "hi" });
    assert.is(status, 400);
    assert.is(json.error.type, "invalid_request_error");
    assert.is(json.error.param, "task");
    assert.match(json.error.message, 'task "classify"');
  }
  const refused: [string, unknown][] = [
    ["/v1/embeddings", { input: "hi" }],
    ["/v1/completions", { prompt: "hi", max_tokens: 4 }],
    ["/score", { text_1: "hi", text_2: "there" }],
    ["/rerank", { query: "hi", documents: ["there"] }],
  ];
  for (const [path, body] of refused) {
    const { status, json } = await postJson(`${base}${path}`, body);
    assert.is(status, 400, path);
    assert.is(json.error.param, "task", path);
    if (path === "/score" || path === "/rerank") assert.is(json.error.message, "Score API is only enabled for num_labels == 1.");
  }
  const missing = await postJson(`${base}/classify`, { model: "stories-classifier" });
  assert.is(missing.status, 400);
  assert.is(classifier.stats().kvCacheUsagePerc, 0);
});

test("a one-label classifier serves /score and /rerank as a cross-encoder, with the offline scores", async () => {
  const oneLabel = writeClassifierCheckpoint(stories, join(workDir, "reward"), { head: head.slice(0, hidden), config: { num_labels: 1 } });
  const documents = ["there was a little girl", "Tom was sad", "the dog ran"];
  const offline = await LLM.create({ model: oneLabel, ...options });
  const expectedScores = (await offline.score("Once upon a time", documents)).map((s) => s.outputs.score);
  offline.close();
  const engine = await AsyncLLM.create({ model: oneLabel, ...options });
  const app = createServer({ engine, servedModelName: ["reward"] });
  const { base: rewardBase } = await listenWithClient(app);
  try {
    const score = await postJson(`${rewardBase}/score`, { text_1: "Once upon a time", text_2: documents });
    assert.is(score.status, 200);
    assert.equal(score.json.data.map((d: { score: number }) => d.score), expectedScores);
    const rerank = await postJson(`${rewardBase}/rerank`, { query: "Once upon a time", documents, top_n: 2 });
    assert.is(rerank.status, 200);
    const best = [...expectedScores.keys()].sort((a, b) => expectedScores[b] - expectedScores[a]).slice(0, 2);
    assert.equal(rerank.json.results.map((r: { index: number }) => r.index), best);
    assert.equal(rerank.json.results.map((r: { relevance_score: number }) => r.relevance_score), best.map((i) => expectedScores[i]));
    const invoked = await postJson(`${rewardBase}/invocations`, { query: "Once upon a time", documents });
    assert.is(invoked.status, 200);
    assert.is(invoked.json.results.length, documents.length);
  } finally {
    await app.close();
    await engine.shutdown();
  }
});

test.run();
