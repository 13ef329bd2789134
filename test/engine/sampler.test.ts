// The native sampler checked transform by transform against the naive JS reference: the same
// token for the same (seed, sequence index, step), and log-probs from the raw logits.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildAddon, loadAddon } from "../../codegen/build/addon.ts";
import type { NativeSamplerAddon } from "../../runtime/engine/sampler-addon.ts";
import { Sampler, type SampleRow } from "../../runtime/engine/sampler.ts";
import type { SamplingParams } from "../../runtime/engine/types.ts";
import { makeTestRequest } from "../support/engine-fixtures.ts";
import { seededRandom as lcg } from "../support/engine-random.ts";
import { referenceLogprobs, referenceSample, type ReferenceRow } from "../support/engine-sampler-reference.ts";

const vocabSize = 300;
const addon = loadAddon<NativeSamplerAddon>(buildAddon({ name: "engine_test", kernels: [] }).path);
const sampler = new Sampler(addon, vocabSize);

interface Case {
  params: Partial<SamplingParams>;
  badWords?: number[][];
}

/** numRows rows of random logits and histories, sampled natively and by the reference. */
function compare(name: string, c: Case, numRows = 40): void {
  const rand = lcg(name.length * 7919 + 17);
  const logits = new Float32Array(numRows * vocabSize);
  // Tokens 0..9 score high and histories draw from 0..5, so penalties and bad words hit the head.
  for (let i = 0; i < logits.length; i++) logits[i] = (rand() - 0.5) * 8 + (i % vocabSize < 10 ? 3 : 0);
  const rows: SampleRow[] = [];
  const refs: ReferenceRow[] = [];
  for (let r = 0; r < numRows; r++) {
    const prompt = Array.from({ length: 5 + (r % 7) }, () => Math.floor(rand() * vocabSize));
    const output = Array.from({ length: r % 9 }, () => Math.floor(rand() * 6));
    const seed = BigInt(r * 977 + 3) * 0x1_0000_0001n;
    const request = makeTestRequest(prompt, c.params, { seed, eosTokenIds: [2], badWordsTokenIds: c.badWords ?? [] });
    const seq = request.sequences[0];
    seq.tokenIds.push(...output);
    rows.push({ seq, logitsRow: r });
    const p = request.params;
    refs.push({
      temperature: p.temperature,
      topP: p.topP,
      topK: p.topK,
      minP: p.minP,
      presencePenalty: p.presencePenalty,
      frequencyPenalty: p.frequencyPenalty,
      repetitionPenalty: p.repetitionPenalty,
      logitBias: p.logitBias ?? {},
      allowedTokenIds: p.allowedTokenIds ?? [],
      bannedTokenIds: output.length < p.minTokens ? [2, ...p.stopTokenIds] : [],
      badWords: c.badWords ?? [],
      promptTokens: prompt,
      outputTokens: output,
      seed,
      index: 0,
      step: output.length,
    });
  }
  const out = sampler.sample(logits, rows);
  const expected = refs.map((ref, r) => referenceSample(logits.subarray(r * vocabSize, (r + 1) * vocabSize), ref));
  assert.equal([...out.tokenIds], expected, name);
}

const cases: Record<string, Case> = {
  "greedy picks the argmax": { params: { temperature: 0 } },
  "plain sampling at temperature 1": { params: {} },
  "temperature scales the logits": { params: { temperature: 0.35 } },
  "top_k keeps the k best": { params: { topK: 5 } },
  "top_p keeps the smallest head reaching p": { params: { topP: 0.3 } },
  "min_p drops tokens below min_p times the best": { params: { minP: 0.2 } },
  "top_k, top_p and min_p compose": { params: { topK: 12, topP: 0.8, minP: 0.05, temperature: 0.7 } },
  "repetition penalty over prompt and output": { params: { repetitionPenalty: 1.7, temperature: 0 } },
  "frequency and presence penalties over output counts": { params: { frequencyPenalty: 1.3, presencePenalty: 0.6, temperature: 0 } },
  "penalties under sampling": { params: { repetitionPenalty: 1.3, frequencyPenalty: 0.5, presencePenalty: -0.4 } },
  "logit_bias shifts chosen tokens": { params: { logitBias: { 7: 30, 8: -100, 9: 4.5 }, temperature: 0.8 } },
  "allowed_token_ids restricts the vocabulary": { params: { allowedTokenIds: [3, 14, 15, 92, 65], temperature: 1 } },
  "min_tokens masks EOS and stop token ids": { params: { minTokens: 5, stopTokenIds: [10, 11], logitBias: { 2: 50, 10: 50 }, temperature: 0 } },
  "bad words ban single tokens and completed sequences": { params: { temperature: 0 }, badWords: [[5], [1, 2, 3], [0, 4]] },
};

for (const [name, c] of Object.entries(cases)) test(name, () => compare(name, c));

test("a row's token depends on its seed and step, not on the rest of the batch", () => {
  const logits = new Float32Array(3 * vocabSize);
  const rand = lcg(99);
  for (let i = 0; i < logits.length; i++) logits[i] = rand() * 4;
  const make = () => makeTestRequest([1, 2, 3], { temperature: 1 }, { seed: 42n }).sequences[0];
  const alone = sampler.sample(logits.subarray(vocabSize, 2 * vocabSize), [{ seq: make(), logitsRow: 0 }]).tokenIds[0];
  const other = makeTestRequest([4], { temperature: 1 }, { seed: 7n }).sequences[0];
  const batched = sampler.sample(logits, [
    { seq: other, logitsRow: 0 },
    { seq: make(), logitsRow: 1 },
    { seq: other, logitsRow: 2 },
  ]).tokenIds[1];
  assert.is(batched, alone);
});

test("sampling frequencies follow the top-k/top-p distribution", () => {
  const logits = Float32Array.from({ length: vocabSize }, (_, i) => (i < 4 ? [2, 1.5, 1, 0.5][i] : -5));
  const counts = new Map<number, number>();
  const draws = 4000;
  const rows: SampleRow[] = [];
  for (let step = 0; step < draws; step++) {
    const seq = makeTestRequest([1], { topK: 3 }, { seed: 5n }).sequences[0];
    for (let i = 0; i < step; i++) seq.tokenIds.push(0);
    rows.push({ seq, logitsRow: 0 });
  }
  for (const id of sampler.sample(logits, rows).tokenIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  const z = Math.exp(2) + Math.exp(1.5) + Math.exp(1);
  assert.equal([...counts.keys()].sort((a, b) => a - b), [0, 1, 2]);
  for (const [id, logit] of [[0, 2], [1, 1.5], [2, 1]]) {
    const p = Math.exp(logit) / z;
    assert.ok(Math.abs((counts.get(id) ?? 0) / draws - p) < 4 * Math.sqrt((p * (1 - p)) / draws), `token ${id}`);
  }
});

test("log-probs come from the raw logits: the chosen token with its rank, then the top-N", () => {
  const rand = lcg(3);
  const logits = Float32Array.from({ length: 2 * vocabSize }, () => rand() * 6 - 3);
  const seqs = [
    makeTestRequest([1], { temperature: 0, logprobs: 3, repetitionPenalty: 2 }).sequences[0],
    makeTestRequest([1], { temperature: 1, logprobs: 1 }).sequences[0],
  ];
  const out = sampler.sample(logits, seqs.map((seq, r) => ({ seq, logitsRow: r })));
  const lp = out.logprobs;
  assert.ok(lp !== null);
  assert.is(lp.width, 4);
  for (let r = 0; r < 2; r++) {
    const raw = logits.subarray(r * vocabSize, (r + 1) * vocabSize);
    const want = referenceLogprobs(raw, out.tokenIds[r], r === 0 ? 3 : 1);
    assert.is(lp.tokenIds[r * 4], out.tokenIds[r]);
    assert.ok(Math.abs(lp.logprobs[r * 4] - want.logprob) < 1e-5);
    assert.is(lp.ranks[r * 4], want.rank);
    want.top.forEach((t, j) => {
      assert.is(lp.tokenIds[r * 4 + 1 + j], t.id);
      assert.ok(Math.abs(lp.logprobs[r * 4 + 1 + j] - t.logprob) < 1e-5);
      assert.is(lp.ranks[r * 4 + 1 + j], j + 1);
    });
  }
  assert.is(lp.tokenIds[1 * 4 + 2], -1, "unused slots are -1");
});

test("prompt log-probs score given targets under chosen rows", () => {
  const rand = lcg(11);
  const logits = Float32Array.from({ length: 3 * vocabSize }, () => rand() * 6 - 3);
  const out = sampler.logprobsOf(logits, Int32Array.of(2, 0), Int32Array.of(17, 250), 2);
  for (const [slot, row, target] of [[0, 2, 17], [1, 0, 250]]) {
    const want = referenceLogprobs(logits.subarray(row * vocabSize, (row + 1) * vocabSize), target, 2);
    assert.is(out.tokenIds[slot * 3], target);
    assert.ok(Math.abs(out.logprobs[slot * 3] - want.logprob) < 1e-5);
    assert.is(out.ranks[slot * 3], want.rank);
    assert.equal([out.tokenIds[slot * 3 + 1], out.tokenIds[slot * 3 + 2]], want.top.map((t) => t.id));
  }
});

test("bad input is rejected before any memory is touched", () => {
  const seq = makeTestRequest([1], {}).sequences[0];
  assert.throws(() => sampler.sample(new Float32Array(vocabSize), [{ seq, logitsRow: 1 }]), /rowIndices/);
  assert.throws(() => sampler.logprobsOf(new Float32Array(vocabSize), Int32Array.of(0), Int32Array.of(vocabSize), 0), /outside the vocabulary/);
});

test.run();
