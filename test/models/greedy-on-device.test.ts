// Greedy sampling where the logits are (ModelRunner.executeGreedy: an argmax launched at the end of
// the forward pass, so a CUDA step brings back one token id per row instead of [rows, vocab]
// logits). On the compiled stories260K model, under both kernel plans, each row's id is the first
// argmax of the logits execute() returns for the same step. The engine takes that path exactly
// when every logits row is a sample row picking the raw argmax, and gives the tokens it gives when
// the runner has no such path (every row through the sampler).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LLM } from "../../index.ts";
import type { ModelRunner } from "../../runtime/engine/model-runner.ts";
import type { SamplingParams } from "../../runtime/engine/types.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { argmax, SingleSequence } from "../support/model-driver.ts";

const model = "../shared/models/stories260K-hf";

for (const kernelPlan of ["cpu", "gpu"] as const) {
  test(`${kernelPlan} kernel plan: executeGreedy gives the first argmax of every row execute() returns`, async () => {
    const loaded = await loadModel(model);
    const runner = createModelRunner(loaded, { maxNumBatchedTokens: 64, threads: 1, kernelPlan });
    runner.initializeKvCache(8, 16);
    const vocab = loaded.config.vocabSize;
    const seq = new SingleSequence(runner, 16, 8);
    // A prompt with logits at every position (each row its own argmax), then single-token steps.
    const steps = [seq.next(Array.from({ length: 40 }, (_, i) => 1 + ((i * 31) % 500)), true), seq.next([17], true), seq.next([200], true)];
    for (const [s, input] of steps.entries()) {
      const logits = runner.execute(input);
      const ids = runner.executeGreedy(input);
      assert.is(ids.length, input.logitsIndices.length);
      const expected = Array.from({ length: ids.length }, (_, r) => argmax(logits.subarray(r * vocab, (r + 1) * vocab)));
      assert.equal(Array.from(ids), expected, `step ${s}`);
    }
    const none = { ...steps[1], logitsIndices: new Int32Array(0) };
    assert.is(runner.executeGreedy(none).length, 0, "a step without logits rows");
  });
}

/** Counts the runner's calls of each path. */
function spy(runner: ModelRunner): { execute: number; executeGreedy: number } {
  const calls = { execute: 0, executeGreedy: 0 };
  const execute = runner.execute.bind(runner);
  const executeGreedy = runner.executeGreedy!.bind(runner);
  runner.execute = (input) => (calls.execute++, execute(input));
  runner.executeGreedy = (input) => (calls.executeGreedy++, executeGreedy(input));
  return calls;
}

const prompts = ["Once upon a time", "The little dog", "Lily and Ben went to the park", "Mom said"];
const greedy = { maxTokens: 12, temperature: 0 };
const cases: [string, Partial<SamplingParams> | Partial<SamplingParams>[], "executeGreedy" | "execute" | "both"][] = [
  ["plain greedy", greedy, "executeGreedy"],
  ["greedy with log-probs", { ...greedy, logprobs: 2 }, "execute"],
  ["greedy with prompt log-probs", { ...greedy, promptLogprobs: 1 }, "execute"],
  ["greedy with a repetition penalty", { ...greedy, repetitionPenalty: 1.3 }, "execute"],
  ["greedy with a logit bias", { ...greedy, logitBias: { 13: 5 } }, "execute"],
  ["greedy with min_tokens (EOS banned for the first 4 tokens only)", { ...greedy, minTokens: 4 }, "both"],
  ["seeded sampling", { maxTokens: 12, temperature: 0.8, seed: 3 }, "execute"],
  ["plain greedy batched with one request asking for log-probs", [greedy, { ...greedy, logprobs: 1 }, greedy, greedy], "execute"],
];

for (const [name, params, path] of cases) {
  test(`engine, ${name}: ${path === "both" ? "both paths" : path}, the tokens of the sampler path`, async () => {
    const llm = await LLM.create({ model, logger: () => {} });
    const calls = spy(llm.engine.runner);
    const withGreedy = await llm.generate(prompts, params);
    if (path !== "execute") assert.ok(calls.executeGreedy > 0, "the argmax ran with the forward pass");
    if (path !== "executeGreedy") assert.ok(calls.execute > 0, "the sampler read the logits");
    llm.engine.runner.executeGreedy = undefined;
    const sampler = await llm.generate(prompts, params);
    withGreedy.forEach((out, i) => assert.equal(out.outputs[0].tokenIds, sampler[i].outputs[0].tokenIds, prompts[i]));
    llm.close();
  });
}

test.run();
