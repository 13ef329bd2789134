// repetition_detection (vLLM's RepetitionDetectionParams): the detector's incremental runs agree
// with vLLM's direct check of the output's tail on every prefix of random outputs; a scripted
// model's output stops at the token that completes the repeats, with finish reason "repetition"
// and stop reason "repetition_detected", after min_tokens, only inside the output, never before
// the length cap; seeded sampling ends exactly where the oracle first fires, alone or in a batch;
// and bad params are refused naming the field.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RepetitionDetector } from "../../runtime/engine/repetition-detector.ts";
import { samplingParams, type RepetitionDetectionParams, type SamplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { drain, makeTestEngine, testTokenizer } from "../support/engine-harness.ts";
import { seededRandom } from "../support/engine-random.ts";
import { ScriptedModelRunner } from "../support/engine-scripted-model.ts";
import { eosTokenId } from "../support/engine-tokenizer.ts";

/** vLLM's check_sequence_repetition, written out: for each size, do the last minCount blocks of the output match? */
function vllmRepeats(output: readonly number[], { maxPatternSize, minPatternSize, minCount }: RepetitionDetectionParams): boolean {
  const minSize = Math.max(1, minPatternSize);
  if (maxPatternSize <= 0 || minCount < 2 || minSize > maxPatternSize) return false;
  for (let size = minSize; size <= maxPatternSize; size++) {
    if (size * minCount > output.length) return false;
    let same = true;
    for (let n = 1; n <= size && same; n++) {
      for (let m = 1; m < minCount && same; m++) same = output[output.length - (size * m + n)] === output[output.length - n];
    }
    if (same) return true;
  }
  return false;
}

test("the detector agrees with vLLM's check on every prefix of random outputs", () => {
  const rand = seededRandom(7);
  for (let trial = 0; trial < 300; trial++) {
    const params = { maxPatternSize: 1 + Math.floor(rand() * 6), minPatternSize: Math.floor(rand() * 4), minCount: 2 + Math.floor(rand() * 3) };
    if (params.minPatternSize > params.maxPatternSize) continue;
    const prompt = Array.from({ length: Math.floor(rand() * 5) }, () => Math.floor(rand() * 3));
    const alphabet = 1 + Math.floor(rand() * 3);
    const detector = RepetitionDetector.create(params, 1000)!;
    const tokens = [...prompt];
    for (let i = 0; i < 60; i++) {
      tokens.push(Math.floor(rand() * alphabet));
      const expected = vllmRepeats(tokens.slice(prompt.length), params);
      assert.is(detector.push(tokens, prompt.length), expected, `trial ${trial} ${JSON.stringify(params)} output ${tokens.slice(prompt.length)}`);
    }
  }
});

test("max_pattern_size 0 (vLLM's default) detects nothing; sizes past the budget are not tracked", () => {
  assert.is(RepetitionDetector.create({ maxPatternSize: 0, minPatternSize: 0, minCount: 0 }, 100), null);
  assert.is(RepetitionDetector.create({ maxPatternSize: 8, minPatternSize: 5, minCount: 3 }, 14), null);
  assert.ok(RepetitionDetector.create({ maxPatternSize: 1e9, minPatternSize: 1, minCount: 2 }, 16) !== null);
});

const prompt = testTokenizer.encode("Q:");
const [a, b, c, d] = testTokenizer.encode("abcd", { addSpecialTokens: false });

function generate(continuation: number[], overrides: Partial<SamplingParams>) {
  const engine = makeTestEngine({}, new ScriptedModelRunner([...prompt, ...continuation], testTokenizer.vocabSize, eosTokenId));
  engine.addRequest("r", { promptTokenIds: prompt }, samplingParams({ temperature: 0, maxTokens: 64, ...overrides }));
  const final = drain(engine).get("r")!.outputs[0];
  assert.is(engine.kvCacheManager.numFreeBlocks, engine.kvCacheManager.numBlocks);
  return final;
}

const abcTimes4 = [d, ...Array.from({ length: 4 }, () => [a, b, c]).flat()];

test("the output stops at the token completing min_count copies, with vLLM's finish and stop reasons", () => {
  const out = generate(abcTimes4, { repetitionDetection: { maxPatternSize: 4, minPatternSize: 2, minCount: 3 } });
  assert.equal(out.tokenIds, [d, a, b, c, a, b, c, a, b, c]);
  assert.is(out.text, "dabcabcabc");
  assert.is(out.finishReason, "repetition");
  assert.is(out.stopReason, "repetition_detected");
  // Without detection the script runs on to EOS.
  assert.is(generate(abcTimes4, {}).finishReason, "stop");
  // A size range that leaves the pattern's size out does not fire.
  assert.is(generate(abcTimes4, { repetitionDetection: { maxPatternSize: 2, minPatternSize: 1, minCount: 3 } }).finishReason, "stop");
  assert.is(generate(abcTimes4, { repetitionDetection: { maxPatternSize: 0, minPatternSize: 0, minCount: 0 } }).finishReason, "stop");
});

test("min_tokens holds detection back; a pattern counts only within the output; the length cap wins", () => {
  const rd = { maxPatternSize: 3, minPatternSize: 3, minCount: 2 };
  assert.is(generate(abcTimes4, { repetitionDetection: rd }).tokenIds.length, 7);
  assert.is(generate(abcTimes4, { repetitionDetection: rd, minTokens: 9 }).tokenIds.length, 9);
  // The prompt ends with a b c, but its copy is not output: two copies need six output tokens.
  const engine = makeTestEngine({}, new ScriptedModelRunner([...prompt, a, b, c, a, b, c, a, b, c], testTokenizer.vocabSize, eosTokenId));
  engine.addRequest("r", { promptTokenIds: [...prompt, a, b, c] }, samplingParams({ temperature: 0, maxTokens: 64, repetitionDetection: rd }));
  assert.equal(drain(engine).get("r")!.outputs[0].tokenIds, [a, b, c, a, b, c]);
  const capped = generate(abcTimes4, { repetitionDetection: rd, maxTokens: 7 });
  assert.is(capped.finishReason, "length");
});

test("a stop string completed by the repeating token still wins, as vLLM's detokenizer decides after the engine", () => {
  const out = generate(abcTimes4, { repetitionDetection: { maxPatternSize: 3, minPatternSize: 3, minCount: 2 }, stop: ["cabc"] });
  assert.is(out.finishReason, "stop");
  assert.is(out.stopReason, "cabc");
});

test("seeded sampling stops where vLLM's check first fires, alone or batched with other requests", () => {
  const [x, y] = [a, b];
  const rd = { maxPatternSize: 4, minPatternSize: 1, minCount: 3 };
  const base: Partial<SamplingParams> = { temperature: 1, maxTokens: 48, allowedTokenIds: [x, y], ignoreEos: true };
  const run = (batched: boolean) => {
    const engine = makeTestEngine();
    for (let s = 0; s < 6; s++) engine.addRequest(`r${s}`, { promptTokenIds: prompt }, samplingParams({ ...base, seed: s, repetitionDetection: rd }));
    if (batched) for (let s = 0; s < 6; s++) engine.addRequest(`o${s}`, { promptTokenIds: [...prompt, x, y, x] }, samplingParams({ ...base, seed: 100 + s }));
    return drain(engine);
  };
  const free = (() => {
    const engine = makeTestEngine();
    for (let s = 0; s < 6; s++) engine.addRequest(`r${s}`, { promptTokenIds: prompt }, samplingParams({ ...base, seed: s }));
    return drain(engine);
  })();
  const alone = run(false);
  const batched = run(true);
  for (let s = 0; s < 6; s++) {
    const full = free.get(`r${s}`)!.outputs[0].tokenIds;
    let end = 1;
    while (end < full.length && !vllmRepeats(full.slice(0, end), rd)) end++;
    const expected = full.slice(0, end);
    for (const outputs of [alone, batched]) {
      const out = outputs.get(`r${s}`)!.outputs[0];
      assert.equal(out.tokenIds, expected, `seed ${s}`);
      assert.is(out.finishReason, vllmRepeats(expected, rd) ? "repetition" : "length");
    }
  }
});

test("bad repetition_detection params are refused naming the field", () => {
  const engine = makeTestEngine();
  const bad: RepetitionDetectionParams[] = [
    { maxPatternSize: -1, minPatternSize: 0, minCount: 2 },
    { maxPatternSize: 2, minPatternSize: 3, minCount: 2 },
    { maxPatternSize: 2, minPatternSize: 1, minCount: 1 },
    { maxPatternSize: 2.5, minPatternSize: 1, minCount: 2 },
  ];
  for (const repetitionDetection of bad) {
    try {
      engine.addRequest("bad", { promptTokenIds: prompt }, samplingParams({ repetitionDetection }));
      assert.unreachable(`accepted ${JSON.stringify(repetitionDetection)}`);
    } catch (error) {
      assert.instance(error, TsvllmError);
      assert.is((error as TsvllmError).param, "repetition_detection");
    }
  }
  // min_count does not matter while detection is off, as in vLLM.
  engine.addRequest("off", { promptTokenIds: prompt }, samplingParams({ maxTokens: 2, repetitionDetection: { maxPatternSize: 0, minPatternSize: 0, minCount: 0 } }));
});

test.run();
