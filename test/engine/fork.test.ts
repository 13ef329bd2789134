// n > 1: the prompt is computed once, the n sequences fork from it and share its blocks; a partly
// filled last block is copied on write, and each sequence draws from its own RNG stream.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { samplingParams } from "../../runtime/engine/types.ts";
import { checkBlockInvariants, drain, makeTestEngine, randomPrompts } from "../support/engine-harness.ts";
import { ReferenceModelRunner } from "../support/engine-reference-model.ts";
import { testTokenizer } from "../support/engine-harness.ts";

const [prompt] = randomPrompts(1, 77, 37, 37);
const blockSize = 8;
const fullPromptBlocks = Math.floor(prompt.length / blockSize);

test("n = 4 shares the prompt's full blocks and copies only the partly filled one", () => {
  const runner = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize });
  runner.keepInputs = true;
  const engine = makeTestEngine({ blockSize }, runner);
  const request = engine.addRequest("n4", { promptTokenIds: prompt }, samplingParams({ n: 4, seed: 3, maxTokens: 10, ignoreEos: true }));
  engine.step();
  assert.is(runner.inputs[0].numTokens, prompt.length, "the prompt is computed once");
  const tables = request.sequences.map((s) => s.blockTable);
  for (const t of tables) assert.equal(t, tables[0], "right after the fork all four hold the same blocks");
  const kv = engine.kvCacheManager;
  for (const b of tables[0]) assert.is(kv.refCount(b), 4);
  engine.step();
  const copies = runner.inputs[1].blockCopies;
  assert.is(copies.length / 2, 3, "three sequences copy the shared partial block; the fourth keeps it");
  const distinct = new Set(request.sequences.flatMap((s) => s.blockTable));
  assert.is(distinct.size, fullPromptBlocks + 4, "full prompt blocks shared, one private last block each");
  for (let i = 0; i < fullPromptBlocks; i++) assert.is(kv.refCount(tables[0][i]), 4);
  checkBlockInvariants(engine);
  const output = drain(engine).get("n4");
  assert.ok(output !== undefined);
  assert.is(output.outputs.length, 4);
  assert.equal(output.outputs.map((o) => o.index), [0, 1, 2, 3]);
  assert.ok(new Set(output.outputs.map((o) => o.tokenIds.join(","))).size > 1, "the four samples differ");
  assert.is(kv.numFreeBlocks, kv.numBlocks);
});

test("each forked sequence equals the same seeded request's sequence run again", () => {
  const run = () => {
    const engine = makeTestEngine({ blockSize });
    engine.addRequest("a", { promptTokenIds: prompt }, samplingParams({ n: 3, seed: 11, maxTokens: 12, ignoreEos: true }));
    return drain(engine).get("a")?.outputs.map((o) => o.tokenIds);
  };
  assert.equal(run(), run());
});

test("greedy n = 2 gives two identical sequences that match n = 1", () => {
  const engine = makeTestEngine({ blockSize });
  engine.addRequest("two", { promptTokenIds: prompt }, samplingParams({ n: 2, temperature: 0, maxTokens: 9, ignoreEos: true }));
  engine.addRequest("one", { promptTokenIds: prompt }, samplingParams({ temperature: 0, maxTokens: 9, ignoreEos: true }));
  const finals = drain(engine);
  const two = finals.get("two")?.outputs.map((o) => o.tokenIds);
  const one = finals.get("one")?.outputs[0].tokenIds;
  assert.equal(two, [one, one]);
  checkBlockInvariants(engine);
});

test.run();
