// Log-probs in outputs: per generated token the chosen token plus the top-N from the model's raw
// log-softmax, a cumulative sum, and prompt log-probs for every prompt token after the first,
// identical whether the prompt is computed whole or in chunks.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { samplingParams } from "../../runtime/engine/types.ts";
import { drain, makeTestEngine, randomPrompts, testTokenizer } from "../support/engine-harness.ts";
import { ReferenceModelRunner } from "../support/engine-reference-model.ts";
import { referenceLogprobs } from "../support/engine-sampler-reference.ts";

const [prompt] = randomPrompts(1, 404, 30, 30);

test("each generated token carries its log-prob, rank and the top-N, and they sum up", () => {
  const engine = makeTestEngine({});
  engine.addRequest("lp", { promptTokenIds: prompt }, samplingParams({ temperature: 0, maxTokens: 6, logprobs: 3, ignoreEos: true }));
  const out = drain(engine).get("lp")?.outputs[0];
  assert.ok(out !== undefined && out.logprobs !== null && out.cumulativeLogprob !== null);
  assert.is(out.logprobs.length, 6);
  let sum = 0;
  out.logprobs.forEach((position, i) => {
    const chosen = position.get(out.tokenIds[i]);
    assert.ok(chosen !== undefined);
    assert.is(chosen.rank, 1, "greedy picks the top token");
    assert.is(position.size, 3, "the chosen token is one of the top 3");
    assert.is(chosen.decodedToken, testTokenizer.tokenText(out.tokenIds[i]));
    const values = [...position.values()].map((e) => e.logprob);
    assert.equal(values, [...values].sort((a, b) => b - a));
    sum += chosen.logprob;
  });
  assert.ok(Math.abs(sum - out.cumulativeLogprob) < 1e-4);
});

test("without logprobs the output carries none", () => {
  const engine = makeTestEngine({});
  engine.addRequest("plain", { promptTokenIds: prompt }, samplingParams({ maxTokens: 2 }));
  const out = drain(engine).get("plain")?.outputs[0];
  assert.is(out?.logprobs, null);
  assert.is(out?.cumulativeLogprob, null);
});

test("prompt log-probs score every prompt token after the first against the model", () => {
  const runner = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });
  runner.keepInputs = true;
  const whole = makeTestEngine({}, runner);
  whole.addRequest("p", { promptTokenIds: prompt }, samplingParams({ maxTokens: 1, promptLogprobs: 2 }));
  const [result] = whole.step();
  const input = runner.inputs[0];
  assert.is(input.numTokens, prompt.length);
  assert.is(input.logitsIndices.length, prompt.length, "a row per scored prompt token (all but the first) plus the sampling row");
  assert.ok(result.finished && result.promptLogprobs !== null);
  const promptLogprobs = result.promptLogprobs;
  assert.is(promptLogprobs.length, prompt.length);
  assert.is(promptLogprobs[0], null);
  for (let i = 1; i < prompt.length; i++) {
    const entry = promptLogprobs[i];
    assert.ok(entry !== null && entry.has(prompt[i]));
    assert.ok(entry.size <= 3);
  }

  const chunked = makeTestEngine({ maxNumBatchedTokens: 7 });
  chunked.addRequest("p", { promptTokenIds: prompt }, samplingParams({ maxTokens: 1, promptLogprobs: 2 }));
  const chunkedLogprobs = drain(chunked).get("p")?.promptLogprobs;
  assert.equal(
    chunkedLogprobs?.map((m) => (m === null ? null : [...m.entries()])),
    promptLogprobs.map((m) => (m === null ? null : [...m.entries()])),
  );
});

test("prompt log-probs match the raw log-softmax of the model's logits", () => {
  const runner = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });
  const engine = makeTestEngine({}, runner);
  engine.addRequest("p", { promptTokenIds: prompt.slice(0, 5) }, samplingParams({ maxTokens: 1, promptLogprobs: 0 }));
  const promptLogprobs = drain(engine).get("p")?.promptLogprobs ?? [];
  // Recompute the logits of prompt[0..3] with a fresh copy of the model to get the reference.
  const check = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });
  check.initializeKvCache(1, 16);
  const logits = check.execute({
    numSeqs: 1,
    numTokens: 4,
    inputIds: Int32Array.from(prompt.slice(0, 4)),
    positions: Int32Array.of(0, 1, 2, 3),
    slotMapping: Int32Array.of(0, 1, 2, 3),
    blockTables: Int32Array.of(0),
    maxBlocksPerSeq: 1,
    contextLens: Int32Array.of(4),
    queryStartLoc: Int32Array.of(0, 4),
    logitsIndices: Int32Array.of(0, 1, 2, 3),
    blockCopies: new Int32Array(0),
  });
  const V = testTokenizer.vocabSize;
  for (let i = 1; i < 5; i++) {
    const want = referenceLogprobs(logits.subarray((i - 1) * V, i * V), prompt[i], 0);
    const got = promptLogprobs[i]?.get(prompt[i]);
    assert.ok(got !== undefined);
    assert.ok(Math.abs(got.logprob - want.logprob) < 1e-4);
    assert.is(got.rank, want.rank);
  }
});

test.run();
