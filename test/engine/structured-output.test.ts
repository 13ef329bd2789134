// Structured output through the whole engine (reference model, test tokenizer, native sampler):
// sampled outputs that end in EOS satisfy their constraint by independent checks (JSON.parse and
// ajv, RegExp, the choice list), the constraint holds token by token in every output, outputs
// generated together equal those generated alone, and a constraint that cannot be built queues
// nothing.
import { Ajv } from "ajv";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EngineArgs } from "../../runtime/engine/config.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { samplingParams, type RequestOutput, type SamplingParams, type StructuredOutputsParams } from "../../runtime/engine/types.ts";
import { drain, makeTestEngine, testTokenizer } from "../support/engine-harness.ts";
import { eosTokenId } from "../support/engine-tokenizer.ts";

const ajv = new Ajv({ strict: false });
const schema = {
  type: "object",
  properties: { name: { type: "string", maxLength: 6 }, age: { type: "integer" }, pet: { enum: ["cat", "dog"] }, ok: { type: "boolean" } },
  required: ["name", "age"],
};
const regex = "(?:[A-Z][a-z]{1,4} ){1,3}[0-9]{2}";
const choice = ["the end", "hello world", "once upon a time"];
const compactJson = { json: schema, whitespacePattern: "[ ]?" };

function run(constraints: (StructuredOutputsParams | null)[], overrides: Partial<SamplingParams>, seeds: number[], config: EngineArgs = {}): RequestOutput[] {
  const engine = makeTestEngine(config);
  const prompt = testTokenizer.encode("Q: answer");
  constraints.forEach((structuredOutputs, i) => {
    engine.addRequest(`r${i}`, { promptTokenIds: prompt }, samplingParams({ temperature: 1, maxTokens: 120, seed: seeds[i], structuredOutputs, ...overrides }));
  });
  const finals = drain(engine);
  assert.is(engine.kvCacheManager.numFreeBlocks, engine.kvCacheManager.numBlocks);
  return constraints.map((_, i) => finals.get(`r${i}`)!);
}

function satisfies(constraint: StructuredOutputsParams, text: string): boolean {
  if (constraint.choice) return constraint.choice.includes(text);
  if (constraint.regex) return new RegExp(`^(?:${constraint.regex})$`, "u").test(text);
  try {
    return ajv.validate(constraint.json ?? { type: "object" }, JSON.parse(text));
  } catch {
    return false;
  }
}

const constraints: StructuredOutputsParams[] = [compactJson, { regex }, { choice }, compactJson, { regex }, { choice }];
const seeds = [11, 12, 13, 14, 15, 16];

test("sampled outputs that end in EOS satisfy their constraint; outputs cut by length are prefixes of a match", () => {
  const outputs = run(constraints, {}, seeds);
  let stopped = 0;
  outputs.forEach((out, i) => {
    const o = out.outputs[0];
    if (o.finishReason === "stop") {
      stopped++;
      assert.ok(satisfies(constraints[i], o.text), `${JSON.stringify(constraints[i])}: ${JSON.stringify(o.text)}`);
    } else {
      assert.is(o.finishReason, "length");
    }
  });
  assert.ok(stopped >= 4, `only ${stopped} of ${outputs.length} ended in EOS`);
});

test("with n = 3 every forked sequence follows the constraint on its own", () => {
  const [out] = run([{ choice }], { n: 3 }, [7]);
  assert.is(out.outputs.length, 3);
  for (const o of out.outputs) assert.ok(choice.includes(o.text) && o.finishReason === "stop", JSON.stringify(o.text));
});

test("greedy structured output is the constraint's best path and ends at a whole match", () => {
  const [out] = run([{ choice }], { temperature: 0 }, [0]);
  assert.ok(choice.includes(out.outputs[0].text));
  assert.is(out.outputs[0].finishReason, "stop");
});

test("constrained requests generated together give the outputs they give alone", () => {
  const together = run(constraints, {}, seeds);
  constraints.forEach((c, i) => {
    const [alone] = run([c], {}, [seeds[i]]);
    assert.equal(alone.outputs[0].tokenIds, together[i].outputs[0].tokenIds, `request ${i}`);
  });
});

test("an unconstrained request beside constrained ones is unaffected by them, and differs from a constrained one", () => {
  const [alone] = run([null], {}, [3]);
  const [beside, constrained] = run([null, { choice }, { regex }], {}, [3, 3, 4]);
  assert.equal(beside.outputs[0].tokenIds, alone.outputs[0].tokenIds);
  assert.not.equal(constrained.outputs[0].tokenIds, alone.outputs[0].tokenIds);
  assert.ok(choice.includes(constrained.outputs[0].text));
});

test("min_tokens does not hold back EOS once the constraint is whole", () => {
  const [out] = run([{ choice: ["hello world"] }], { temperature: 1, minTokens: 30 }, [0]);
  const ids = out.outputs[0].tokenIds;
  assert.is(ids[ids.length - 1], eosTokenId);
  assert.is(testTokenizer.decode(ids.slice(0, -1), { skipSpecialTokens: false }), "hello world");
  assert.is(out.outputs[0].finishReason, "stop");
});

test("speculative decoding leaves constrained outputs as they are without it", () => {
  const repetitive = { regex: "(?:ab|ba|the ){3,40}" };
  const speculative = { speculativeConfig: { method: "ngram" as const, numSpeculativeTokens: 3, promptLookupMax: 2, promptLookupMin: 1 } };
  const plain = run([repetitive, repetitive], { maxTokens: 60 }, [21, 22]);
  const drafted = run([repetitive, repetitive], { maxTokens: 60 }, [21, 22], speculative);
  plain.forEach((out, i) => assert.equal(drafted[i].outputs[0].tokenIds, out.outputs[0].tokenIds));
});

test("allowed_token_ids cannot be combined with a constraint", () => {
  const engine = makeTestEngine();
  assert.throws(() => engine.addRequest("both", { promptTokenIds: [1, 5] }, samplingParams({ allowedTokenIds: [5], structuredOutputs: { choice } })), /allowed_token_ids cannot be combined/);
});

test("a constraint that cannot be built is refused at addRequest and queues nothing", () => {
  const engine = makeTestEngine();
  for (const structuredOutputs of [{ regex: "(" }, { json: { type: "nope" } }, { choice: [] }]) {
    assert.throws(() => engine.addRequest("bad", { promptTokenIds: [1, 5] }, samplingParams({ structuredOutputs })), (err: unknown) => err instanceof TsvllmError && err.code === "TSVLLM_ERR_INVALID_ARGUMENT");
  }
  assert.not.ok(engine.hasUnfinishedRequests());
});

test.run();
