// Sampling where the logits are (ModelRunner.executeAndSample: the forward pass ends with
// dsl/kernels/sampling.ts applyLogitEdits and sampleRows, so a CUDA step brings back one token id
// per row instead of [rows, vocab] logits). On the compiled stories260K model, under both kernel
// plans, each row's token is what the DSL references of applyLogitEdits then sampleRows draw from
// the logits execute() returns for the same step, with the uniform draw of the row's RNG key (the
// BigInt reference of the sampler tests, independent of runtime/native/sampling_rng.h); greedy rows
// without edits are the logits' first argmax.
// The engine sends a row there exactly when its own request allows it (and, where the runner
// samples greedy rows only, as CPU builds do by default, when it is greedy), and gives the tokens
// the native sampler gives.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Global } from "../../dsl/global.ts";
import { applyLogitEdits, sampleRows } from "../../dsl/kernels/sampling.ts";
import { LLM } from "../../index.ts";
import type { DeviceSampling, ModelRunner } from "../../runtime/engine/model-runner.ts";
import type { SamplingParams } from "../../runtime/engine/types.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { referenceUniform } from "../support/engine-sampler-reference.ts";
import { runReference } from "../support/kernel-harness.ts";
import { argmax, SingleSequence } from "../support/model-driver.ts";

const model = "../shared/models/stories260K-hf";
/**
 * Three sample rows per logits row: greedy, plain temperature, and every filter at once. The first
 * of them carries the logits row's edits on odd rows: a ban of the top token, a bias, a repetition
 * penalty and a frequency/presence subtraction.
 */
function samplingFor(numLogitRows: number, step: number, topTokens: number[] = []): DeviceSampling {
  const presets = [
    { temperature: 0, topK: 0, topP: 1, minP: 0 },
    { temperature: 0.8, topK: 0, topP: 1, minP: 0 },
    { temperature: 1.1, topK: 20, topP: 0.9, minP: 0.02 },
  ];
  const rows = Array.from({ length: numLogitRows * presets.length }, (_, r) => ({ row: Math.floor(r / presets.length), ...presets[r % presets.length] }));
  const rng = new Uint32Array(rows.length * 4);
  rows.forEach((_, r) => rng.set([1000 + r, 7, r % 2, step], r * 4));
  return {
    rowIndices: Int32Array.from(rows, (r) => r.row),
    temperature: Float32Array.from(rows, (r) => r.temperature),
    topK: Int32Array.from(rows, (r) => r.topK),
    topP: Float32Array.from(rows, (r) => r.topP),
    minP: Float32Array.from(rows, (r) => r.minP),
    rng,
    ...editsFor(rows.map((row, r) => (r % presets.length === 0 && row.row % 2 === 1 ? [topTokens[row.row] ?? 0, 17, 200, 301] : []))),
  };
}

/** Edits of these tokens per sample row: ban, bias +3, repetition 1.5, subtract 0.8 (in turn, repeating). */
function editsFor(tokens: number[][]): Pick<DeviceSampling, "editOffsets" | "editTokenIds" | "editBias" | "editRepetition" | "editSubtract"> {
  const flat = tokens.flat();
  return {
    editOffsets: Int32Array.from([0, ...tokens.map((_, r) => tokens.slice(0, r + 1).flat().length)]),
    editTokenIds: Int32Array.from(flat),
    editBias: Float32Array.from(flat, (_, i) => [-Infinity, 3, 0, 0][i % 4]),
    editRepetition: Float32Array.from(flat, (_, i) => [1, 1, 1.5, 1][i % 4]),
    editSubtract: Float32Array.from(flat, (_, i) => [0, 0, 0, 0.8][i % 4]),
  };
}

/** What the DSL references of applyLogitEdits then sampleRows draw from these logits, and the logits as edited. */
function referenceDraws(logits: Float32Array, vocab: number, s: DeviceSampling): { tokens: number[]; edited: Float32Array } {
  const R = s.rowIndices.length;
  const uniform = Float32Array.from({ length: R }, (_, r) => referenceUniform((BigInt(s.rng[4 * r + 1]) << 32n) | BigInt(s.rng[4 * r]), s.rng[4 * r + 2], s.rng[4 * r + 3]));
  const out = new Global("i32", [R]);
  const E = s.editTokenIds.length;
  const edited = new Global("f32", [logits.length / vocab, vocab], Float32Array.from(logits));
  runReference(applyLogitEdits, [edited, new Global("i32", [R], s.rowIndices), new Global("i32", [R + 1], s.editOffsets), new Global("i32", [E], s.editTokenIds), new Global("f32", [E], s.editBias), new Global("f32", [E], s.editRepetition), new Global("f32", [E], s.editSubtract)]);
  runReference(sampleRows, [edited, new Global("i32", [R], s.rowIndices), new Global("f32", [R], s.temperature), new Global("i32", [R], s.topK), new Global("f32", [R], s.topP), new Global("f32", [R], s.minP), new Global("f32", [R], uniform), out]);
  return { tokens: Array.from(out.data), edited: edited.data as Float32Array };
}

for (const kernelPlan of ["cpu", "gpu"] as const) {
  test(`${kernelPlan} kernel plan: executeAndSample draws what sampleRows' reference draws from execute()'s logits`, async () => {
    const loaded = await loadModel(model);
    const runner = createModelRunner(loaded, { maxNumBatchedTokens: 64, maxNumSeqs: 128, threads: 1, kernelPlan });
    runner.initializeKvCache(8, 16);
    const vocab = loaded.config.vocabSize;
    const seq = new SingleSequence(runner, 16, 8);
    // A prompt with logits at every position, then single-token steps.
    const steps = [seq.next(Array.from({ length: 40 }, (_, i) => 1 + ((i * 31) % 500)), true), seq.next([17], true), seq.next([200], true)];
    for (const [s, input] of steps.entries()) {
      const logits = runner.execute(input);
      const rowsOf = (values: Float32Array) => Array.from({ length: input.logitsIndices.length }, (_, l) => values.subarray(l * vocab, (l + 1) * vocab));
      const sampling = samplingFor(input.logitsIndices.length, s, rowsOf(logits).map(argmax));
      const { tokenIds, logits: none } = runner.executeAndSample(input, sampling, false);
      assert.is(none, null);
      const reference = referenceDraws(logits, vocab, sampling);
      assert.equal(Array.from(tokenIds), reference.tokens, `step ${s}`);
      tokenIds.forEach((id, r) => {
        const row = sampling.rowIndices[r];
        if (sampling.temperature[r] === 0) assert.is(id === argmax(rowsOf(logits)[row]), row % 2 === 0, `step ${s}, greedy row ${r}: the first argmax unless it was banned`);
      });
      const withLogits = runner.executeAndSample(input, sampling, true);
      assert.equal(withLogits.tokenIds, tokenIds);
      // The logits come back when asked, as the edits left them (only rows sampled there are edited).
      rowsOf(withLogits.logits!).forEach((row, l) => {
        if (l % 2 === 0) assert.equal(row, rowsOf(logits)[l]);
        else row.forEach((v, i) => assert.ok(v === rowsOf(reference.edited)[l][i] || Math.abs(v - rowsOf(reference.edited)[l][i]) <= 1e-6 * Math.abs(v), `row ${l} token ${i}`));
      });
    }
    const bad = samplingFor(1, 0);
    bad.rowIndices[2] = 5;
    assert.throws(() => runner.executeAndSample(steps[1], bad, false), /sampling: rowIndices\[2\] = 5 is not a logits row of this step/);
    assert.throws(() => runner.executeAndSample(steps[1], samplingFor(43, 0), false), /sampling: 129 rows, more than the model was sized for \(128\)/);
    const badEdits = (edits: Partial<DeviceSampling>) => () => runner.executeAndSample(steps[1], { ...samplingFor(1, 0), ...edits }, false);
    assert.throws(badEdits({ editOffsets: Int32Array.of(1, 1, 1, 1) }), /sampling: editOffsets must start at 0/);
    assert.throws(badEdits(editsFor([[vocab], [], []])), new RegExp(`sampling: editTokenIds\\[0\\] = ${vocab} is not a token id`));
    assert.throws(badEdits(editsFor([Array.from({ length: 128 * 4096 + 1 }, () => 1), [], []])), /sampling: 524289 logit edits, more than the model was sized for \(524288\)/);
    assert.throws(badEdits({ ...editsFor([[1], [], []]), editBias: new Float32Array(0) }), /sampling: editBias must be a typed array of editOffsets\[rows\] entries/);
  });
}

/** Counts the runner's calls of each path. */
function spy(runner: ModelRunner): { execute: number; executeAndSample: number } {
  const calls = { execute: 0, executeAndSample: 0 };
  const execute = runner.execute.bind(runner);
  const executeAndSample = runner.executeAndSample!.bind(runner);
  runner.execute = (input) => (calls.execute++, execute(input));
  runner.executeAndSample = (input, sampling, returnLogits) => (calls.executeAndSample++, executeAndSample(input, sampling, returnLogits));
  return calls;
}

const prompts = ["Once upon a time", "The little dog", "Lily and Ben went to the park", "Mom said"];
const greedy = { maxTokens: 12, temperature: 0 };
const seeded = { maxTokens: 12, temperature: 0.9, topK: 30, topP: 0.95, minP: 0.01, seed: 3 };
type Params = Partial<SamplingParams> | Partial<SamplingParams>[];
type Path = "executeAndSample" | "execute";
/** Each case's path when the forward pass samples every row it can (CUDA's default) and greedy rows only (CPU's). */
const cases: [string, Params, { all: Path; greedy: Path }][] = [
  ["plain greedy", greedy, { all: "executeAndSample", greedy: "executeAndSample" }],
  ["seeded sampling with top_k, top_p and min_p", seeded, { all: "executeAndSample", greedy: "execute" }],
  ["greedy with log-probs", { ...greedy, logprobs: 2 }, { all: "execute", greedy: "execute" }],
  ["seeded sampling with a repetition penalty", { ...seeded, repetitionPenalty: 1.3 }, { all: "executeAndSample", greedy: "execute" }],
  ["greedy with repetition, frequency and presence penalties", { ...greedy, repetitionPenalty: 1.4, frequencyPenalty: 0.6, presencePenalty: 0.3 }, { all: "executeAndSample", greedy: "executeAndSample" }],
  ["seeded n = 3 with penalties (the forks share the prompt's logits row)", { ...seeded, n: 3, repetitionPenalty: 1.2, frequencyPenalty: 0.5 }, { all: "executeAndSample", greedy: "execute" }],
  ["greedy with a logit bias", { ...greedy, logitBias: { 13: 5 } }, { all: "executeAndSample", greedy: "executeAndSample" }],
  ["greedy with bad words", { ...greedy, badWords: ["the", "a little"] }, { all: "executeAndSample", greedy: "executeAndSample" }],
  ["greedy with allowed_token_ids", { ...greedy, allowedTokenIds: [13, 17, 200, 301] }, { all: "execute", greedy: "execute" }],
  ["greedy with prompt log-probs (logits back beside the sampled rows)", { ...greedy, promptLogprobs: 1 }, { all: "executeAndSample", greedy: "executeAndSample" }],
  ["greedy with min_tokens (EOS banned for the first 4 tokens)", { ...greedy, minTokens: 4 }, { all: "executeAndSample", greedy: "executeAndSample" }],
  ["greedy and seeded requests batched with one asking for log-probs", [greedy, { ...greedy, logprobs: 1 }, seeded, greedy], { all: "executeAndSample", greedy: "executeAndSample" }],
];

/** An engine on the compiled model whose forward pass samples `which` rows. */
async function engineSampling(which: "all" | "greedy"): Promise<LLM> {
  const llm = await LLM.create({ model, logger: () => {} });
  assert.is(llm.engine.runner.forwardSampling, "greedy", "a CPU build samples greedy rows in the forward pass by default");
  Object.assign(llm.engine.runner, { forwardSampling: which });
  return llm;
}

for (const which of ["all", "greedy"] as const) {
  for (const [name, params, paths] of cases) {
    const path = paths[which];
    test(`engine, ${which} rows in the forward pass, ${name}: ${path}, the tokens the native sampler gives`, async () => {
      const llm = await engineSampling(which);
      const calls = spy(llm.engine.runner);
      const inForward = await llm.generate(prompts, params);
      const [taken, other] = path === "executeAndSample" ? ["executeAndSample", "execute"] as const : ["execute", "executeAndSample"] as const;
      assert.ok(calls[taken] > 0, `steps ran ${taken}`);
      assert.is(calls[other], 0, `no step ran ${other}`);
      llm.engine.runner.executeAndSample = undefined;
      const onHost = await llm.generate(prompts, params);
      inForward.forEach((out, i) => {
        out.outputs.forEach((o, j) => {
          assert.equal(o.tokenIds, onHost[i].outputs[j].tokenIds, `${prompts[i]}, output ${j}`);
          assert.equal(o.logprobs, onHost[i].outputs[j].logprobs);
        });
        assert.equal(out.promptLogprobs, onHost[i].promptLogprobs);
      });
      llm.close();
    });
  }
}

test("engine: a seeded request sampled in the forward pass draws the same tokens alone and in any batch", async () => {
  const llm = await engineSampling("all");
  const alone: number[][] = [];
  for (const p of prompts) alone.push((await llm.generate(p, seeded))[0].outputs[0].tokenIds);
  const together = await llm.generate([...prompts].reverse(), [greedy, { ...seeded, temperature: 0.5 }, seeded, { ...greedy, logprobs: 1 }]);
  assert.equal(together[2].outputs[0].tokenIds, alone[1], "same seed, same prompt, other neighbours");
  const batched = await llm.generate(prompts, seeded);
  batched.forEach((out, i) => assert.equal(out.outputs[0].tokenIds, alone[i], prompts[i]));
  llm.close();
});

test.run();
