// Stop conditions with a scripted model whose greedy continuation is known: stop strings found
// across token boundaries and cut from the text (or kept), stop token ids, EOS, ignoreEos,
// minTokens and maxTokens, and streamed text that never shows a partial stop string.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { samplingParams, type SamplingParams } from "../../runtime/engine/types.ts";
import { drain, makeTestEngine, testTokenizer } from "../support/engine-harness.ts";
import { ScriptedModelRunner } from "../support/engine-scripted-model.ts";
import { eosTokenId } from "../support/engine-tokenizer.ts";

const prompt = testTokenizer.encode("Q:");
const continuation = testTokenizer.encode(" once upon a time, hello world. The end", { addSpecialTokens: false });
const script = [...prompt, ...continuation];

function generate(overrides: Partial<SamplingParams>, scriptTokens: number[] = script) {
  const engine = makeTestEngine({}, new ScriptedModelRunner(scriptTokens, testTokenizer.vocabSize, eosTokenId));
  const streamed: string[] = [];
  engine.addRequest("s", { promptTokenIds: prompt }, samplingParams({ temperature: 0, maxTokens: 64, ...overrides }));
  let final = null;
  while (engine.hasUnfinishedRequests()) {
    for (const out of engine.step()) {
      streamed.push(out.outputs[0].text);
      if (out.finished) final = out.outputs[0];
    }
  }
  assert.ok(final !== null);
  assert.is(engine.kvCacheManager.numFreeBlocks, engine.kvCacheManager.numBlocks);
  return { final, streamed };
}

test("the script decodes to the expected text and ends with EOS", () => {
  const { final } = generate({});
  assert.is(final.text, " once upon a time, hello world. The end");
  assert.is(final.finishReason, "stop");
  assert.is(final.stopReason, null);
  assert.is(final.tokenIds[final.tokenIds.length - 1], eosTokenId);
});

test("a stop string spanning several tokens is found and cut from the text", () => {
  // "me, he" spans the tokens " time", ",", " " and "he..." boundaries.
  const { final } = generate({ stop: ["me, he"] });
  assert.is(final.text, " once upon a ti");
  assert.is(final.finishReason, "stop");
  assert.is(final.stopReason, "me, he");
});

test("includeStopStrInOutput keeps the stop string", () => {
  const { final } = generate({ stop: ["hello"], includeStopStrInOutput: true });
  assert.is(final.text, " once upon a time, hello");
  assert.is(final.stopReason, "hello");
});

test("the first matching stop string in the user's order wins", () => {
  const { final } = generate({ stop: ["zzz", "upon", "once"] });
  assert.is(final.stopReason, "once");
  assert.is(final.text, " ");
});

test("streamed text never shows the beginning of a stop string", () => {
  const { final, streamed } = generate({ stop: ["world."] });
  assert.is(final.text, " once upon a time, hello ");
  for (const text of streamed) assert.not.ok(text.includes("wor"), `streamed "${text}"`);
  for (let i = 1; i < streamed.length; i++) assert.ok(streamed[i].startsWith(streamed[i - 1]), "cumulative text only grows");
});

test("a stop token id ends the sequence, is reported, and its text is left out", () => {
  const comma = testTokenizer.encode(",", { addSpecialTokens: false })[0];
  const { final } = generate({ stopTokenIds: [comma] });
  assert.is(final.text, " once upon a time");
  assert.is(final.stopReason, comma);
  assert.is(final.tokenIds[final.tokenIds.length - 1], comma);
  assert.is(generate({ stopTokenIds: [comma], includeStopStrInOutput: true }).final.text, " once upon a time,");
});

test("minTokens defers stop strings and stop tokens", () => {
  const { final } = generate({ stop: ["once"], minTokens: 3 });
  assert.is(final.finishReason, "stop");
  assert.is(final.text, " once upon a time, hello world. The end");
});

test("ignoreEos runs to maxTokens; maxTokens reports length", () => {
  const eos = generate({ ignoreEos: true, maxTokens: continuation.length + 3 }).final;
  assert.is(eos.finishReason, "length");
  assert.is(eos.tokenIds.length, continuation.length + 3);
  const short = generate({ maxTokens: 4 }).final;
  assert.is(short.finishReason, "length");
  assert.is(short.tokenIds.length, 4);
  assert.equal(short.tokenIds, continuation.slice(0, 4));
});

test("the sampler masks EOS below minTokens, so the model cannot end early", () => {
  const { final } = generate({ minTokens: 5 }, [...prompt, ...continuation.slice(0, 2)]);
  assert.ok(final.tokenIds.length >= 5);
  assert.ok(!final.tokenIds.slice(0, 4).includes(eosTokenId));
});

test.run();
