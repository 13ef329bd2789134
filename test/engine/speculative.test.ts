// Speculative decoding by n-gram lookup: the proposer on its own, the config's checks, and whole
// engines over the reference model, where outputs with drafts (greedy and seeded sampling) must
// equal those without, token for token, also under chunked prefill and preemption, while the
// forward pass runs fewer times.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EngineArgs } from "../../runtime/engine/config.ts";
import { NgramIndex } from "../../runtime/engine/ngram-index.ts";
import { resolveSpeculativeConfig, type SpeculativeConfig } from "../../runtime/engine/speculative.ts";
import { samplingParams, type SamplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { checkBlockInvariants, makeTestEngine, randomPrompts, testTokenizer } from "../support/engine-harness.ts";
import { ReferenceModelRunner } from "../support/engine-reference-model.ts";

const ngram = (numSpeculativeTokens: number, promptLookupMax: number, promptLookupMin: number, disableByBatchSize: number | null = null): SpeculativeConfig => ({ method: "ngram", model: null, numSpeculativeTokens, promptLookupMax, promptLookupMin, disableByBatchSize });

/** The lookup's definition, by scanning: the tokens after the most recent earlier occurrence of the longest suffix of promptLookupMax down to promptLookupMin tokens. */
function scanNgramDrafts(tokens: readonly number[], config: SpeculativeConfig, maxDrafts: number): number[] {
  const length = tokens.length;
  if (maxDrafts <= 0) return [];
  for (let n = Math.min(config.promptLookupMax, length - 1); n >= config.promptLookupMin; n--) {
    const suffix = length - n;
    for (let start = suffix - 1; start >= 0; start--) {
      let k = 0;
      while (k < n && tokens[start + k] === tokens[suffix + k]) k++;
      if (k === n) return tokens.slice(start + n, Math.min(start + n + maxDrafts, length));
    }
  }
  return [];
}

const proposeNgramDrafts = (tokens: readonly number[], config: SpeculativeConfig, maxDrafts: number) => new NgramIndex(config).propose(tokens, maxDrafts);

test("the proposer continues the most recent earlier occurrence of the longest matching suffix", () => {
  const tokens = [1, 2, 3, 9, 1, 2, 3, 7, 8, 5, 2, 3];
  // Suffix [2, 3] occurs at 1 and at 5; the later one is followed by 7, 8, 5.
  assert.equal(proposeNgramDrafts(tokens, ngram(3, 2, 1), 3), [7, 8, 5]);
  assert.equal(proposeNgramDrafts(tokens, ngram(3, 2, 1), 2), [7, 8], "at most maxDrafts");
  // A longer suffix wins over a more recent shorter one: [5, 1, 2] matches only at 9..11 -> 4.
  assert.equal(proposeNgramDrafts([5, 1, 2, 4, 6, 1, 2, 0, 5, 1, 2], ngram(2, 3, 1), 2), [4, 6]);
  assert.equal(proposeNgramDrafts([5, 1, 2, 4, 6, 1, 2, 0, 5, 1, 2], ngram(2, 2, 1), 2), [0, 5], "with promptLookupMax 2 the latest [1, 2] wins");
  assert.equal(proposeNgramDrafts([1, 2, 3, 4], ngram(3, 2, 1), 3), [], "no earlier occurrence");
  assert.equal(proposeNgramDrafts([4, 4, 4], ngram(5, 2, 2), 5), [4], "an overlapping occurrence; drafts stop at the end of the sequence");
  assert.equal(proposeNgramDrafts([7, 1, 7], ngram(3, 3, 2), 3), [], "suffixes shorter than promptLookupMin are not looked up");
});

test("the n-gram index kept as a sequence grows proposes what a scan of the whole sequence does (random sequences over 3-6 token ids, lookups of 1-4 tokens, asked after every token or only now and then)", () => {
  let state = 7;
  const random = (n: number) => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 8) % n;
  let lookups = 0;
  let found = 0;
  for (let trial = 0; trial < 60; trial++) {
    const min = 1 + random(3);
    const config = ngram(1 + random(5), min + random(2), min);
    const index = new NgramIndex(config);
    const vocab = 3 + random(4);
    const tokens = Array.from({ length: random(4) }, () => random(vocab));
    const every = 1 + random(3);
    for (let step = 0; step < 120; step++) {
      tokens.push(random(vocab));
      if (step % every !== 0) continue;
      const maxDrafts = random(6) - 1;
      const expected = scanNgramDrafts(tokens, config, maxDrafts);
      assert.equal(index.propose(tokens, maxDrafts), expected, `trial ${trial}, ${tokens.length} tokens`);
      lookups++;
      if (expected.length > 0) found++;
    }
  }
  assert.ok(found > lookups / 4 && found < lookups, `matches and misses both checked (${found} of ${lookups})`);
});

test("speculativeConfig follows vLLM's defaults and names the field it rejects", () => {
  assert.equal(resolveSpeculativeConfig({ method: "ngram", numSpeculativeTokens: 4 }), ngram(4, 5, 5));
  assert.equal(resolveSpeculativeConfig({ method: "ngram", numSpeculativeTokens: 4, promptLookupMax: 3 }), ngram(4, 3, 3));
  assert.equal(resolveSpeculativeConfig({ method: "ngram", numSpeculativeTokens: 4, promptLookupMin: 2, promptLookupMax: 4 }), ngram(4, 4, 2));
  assert.equal(resolveSpeculativeConfig({ method: "ngram", numSpeculativeTokens: 4, disableByBatchSize: 8 }), ngram(4, 5, 5, 8));
  const rejects = (args: object, field: string) =>
    assert.throws(() => makeTestEngine({ speculativeConfig: args as EngineArgs["speculativeConfig"] }), (e: unknown) => e instanceof TsvllmError && e.param === `speculativeConfig.${field}`);
  rejects({ method: "eagle", numSpeculativeTokens: 4 }, "method");
  rejects({ method: "ngram" }, "numSpeculativeTokens");
  rejects({ method: "ngram", numSpeculativeTokens: 2.5 }, "numSpeculativeTokens");
  rejects({ method: "ngram", numSpeculativeTokens: 4, promptLookupMin: 4, promptLookupMax: 2 }, "promptLookupMin");
  rejects({ method: "ngram", numSpeculativeTokens: 4, disableByBatchSize: 0 }, "disableByBatchSize");
});

// Prompts that repeat themselves, so the lookup finds matches from the first step on.
const prompts = randomPrompts(24, 99, 3, 10).map((p, i) => Array.from({ length: 2 + (i % 4) }, () => p).flat());
const greedy = (i: number): SamplingParams => samplingParams({ temperature: 0, maxTokens: 12 + (i % 19), ignoreEos: true });
const speculative: EngineArgs = { speculativeConfig: { method: "ngram", numSpeculativeTokens: 4, promptLookupMax: 3, promptLookupMin: 1 } };

function run(config: EngineArgs, params: (i: number) => SamplingParams, only?: number) {
  const runner = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });
  const engine = makeTestEngine({ blockSize: 4, maxModelLen: 128, ...config }, runner);
  const ids = only === undefined ? [...prompts.keys()] : [only];
  for (const i of ids) engine.addRequest(`r${i}`, { promptTokenIds: prompts[i] }, params(i));
  const finals = new Map<string, number[]>();
  while (engine.hasUnfinishedRequests()) {
    for (const output of engine.step()) if (output.finished) finals.set(output.requestId, output.outputs[0].tokenIds);
    checkBlockInvariants(engine);
  }
  assert.is(engine.kvCacheManager.numFreeBlocks, engine.kvCacheManager.numBlocks);
  return { outputs: ids.map((i) => finals.get(`r${i}`)), stats: engine.stats(), runner };
}

const plain = run({}, greedy);

test("greedy outputs with drafts equal those without, token for token, and some drafts are accepted", () => {
  const { outputs, stats } = run(speculative, greedy);
  assert.equal(outputs, plain.outputs);
  outputs.forEach((o, i) => assert.is(o?.length, greedy(i).maxTokens, "max_tokens holds exactly though a step may add several tokens"));
  assert.ok(stats.specDecodeNumDrafts > 0 && stats.specDecodeNumAcceptedTokens > 0, JSON.stringify(stats));
  assert.ok(stats.specDecodeNumAcceptedTokens < stats.specDecodeNumDraftTokens, "and some rejected");
  assert.is(stats.generationTokens, plain.stats.generationTokens);
});

test("a lone request takes fewer forward passes with drafts", () => {
  const i = 5;
  const alone = run({}, greedy, i);
  const drafted = run(speculative, greedy, i);
  assert.equal(drafted.outputs, alone.outputs);
  assert.is(alone.runner.numExecuteCalls, greedy(i).maxTokens);
  assert.is(drafted.runner.numExecuteCalls, greedy(i).maxTokens - drafted.stats.specDecodeNumAcceptedTokens, "each accepted draft saves one pass");
  assert.ok(drafted.stats.specDecodeNumAcceptedTokens > 0);
});

test("drafts change nothing under chunked prefill and forced preemption (recompute and swap)", () => {
  for (const extra of [{ maxNumBatchedTokens: 16 }, { numGpuBlocksOverride: 24, maxModelLen: 96 }, { numGpuBlocksOverride: 24, maxModelLen: 96, preemptionMode: "swap" as const }]) {
    const { outputs, stats } = run({ ...speculative, ...extra }, greedy);
    assert.equal(outputs, plain.outputs, JSON.stringify(extra));
    if ("numGpuBlocksOverride" in extra) assert.ok(stats.numPreemptions > 0, "the small cache preempted");
    assert.ok(stats.specDecodeNumAcceptedTokens > 0);
  }
});

test("seeded sampled requests draft too, and sample token for token what they sample without drafts", () => {
  const sampled = (i: number): SamplingParams => samplingParams({ temperature: 0.7, topK: 20, seed: 300 + i, maxTokens: 12 + (i % 19), ignoreEos: true });
  const without = run({}, sampled);
  const withDrafts = run(speculative, sampled);
  assert.equal(withDrafts.outputs, without.outputs);
  assert.ok(withDrafts.stats.specDecodeNumAcceptedTokens > 0, JSON.stringify(withDrafts.stats));
  assert.ok(new Set(without.outputs.map((o) => o?.join(","))).size > 20, "the samples differ between requests");
});

test("requests whose processors read the output so far are not drafted", () => {
  const penalised = (i: number): SamplingParams =>
    samplingParams({ temperature: i % 2 ? 0.8 : 0, seed: i, maxTokens: 10, ignoreEos: true, ...(i % 3 === 0 ? { repetitionPenalty: 1.3 } : i % 3 === 1 ? { frequencyPenalty: 0.5 } : { minTokens: 10 }) });
  const without = run({}, penalised);
  const withDrafts = run(speculative, penalised);
  assert.equal(withDrafts.outputs, without.outputs);
  assert.is(withDrafts.stats.specDecodeNumDrafts, 0);
});

test("disableByBatchSize: no drafts while that many sequences are live, drafts again below it", () => {
  const drafted = (disableByBatchSize: number) => run({ speculativeConfig: { ...speculative.speculativeConfig, disableByBatchSize } }, greedy);
  const never = drafted(prompts.length + 1);
  const below = drafted(6);
  assert.equal(below.outputs, plain.outputs);
  assert.ok(below.stats.specDecodeNumDrafts > 0, "the last few sequences draft");
  assert.ok(below.stats.specDecodeNumDrafts < never.stats.specDecodeNumDrafts, `${below.stats.specDecodeNumDrafts} drafts below 6 live sequences, ${never.stats.specDecodeNumDrafts} always`);
});

test("a stop string completed inside accepted drafts ends the output there", () => {
  const reference = run({}, greedy, 7).outputs[0] ?? [];
  const text = testTokenizer.decode(reference.slice(0, 9));
  const stop = text.slice(-2);
  const stopAt = (i: number) => samplingParams({ temperature: 0, maxTokens: 40, ignoreEos: true, stop: [stop] });
  const a = run({}, stopAt, 7);
  const b = run(speculative, stopAt, 7);
  assert.equal(b.outputs, a.outputs);
  assert.ok((a.outputs[0]?.length ?? 0) < 40, "the stop string was found");
});

test.run();
