// The GGUF-embedded SentencePiece tokenizer gives llama.cpp's ids and text, on a 512-piece vocabulary
// (stories260K) and on the real 32,000-piece Llama-2 vocabulary.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadModel } from "../../runtime/loader/index.ts";
import { loadTokenizer } from "../../runtime/tokenizer/index.ts";
import type { Tokenizer } from "../../runtime/tokenizer/types.ts";
import { canRoundTrip, specialTokenStrings, tokenizerCorpus } from "../support/tokenizer-corpus.ts";
import { llamaCppModel, models260K } from "../support/tokenizer-llama.ts";

const corpus = tokenizerCorpus();

async function ggufTokenizer(path: string): Promise<Tokenizer> {
  return loadTokenizer(await loadModel(path));
}

test("the corpus has at least 200 strings", () => {
  assert.ok(corpus.length >= 200, `${corpus.length} strings`);
});

for (const [name, path] of [["stories260K", models260K.gguf], ["llama-2-tiny-random", models260K.llama2Gguf]] as const) {
  test(`${name}: encode gives llama.cpp's ids for every corpus string`, async () => {
    const tokenizer = await ggufTokenizer(path);
    const oracle = await llamaCppModel(path);
    for (const text of [...corpus, ...specialTokenStrings]) {
      assert.equal(tokenizer.encode(text, { addSpecialTokens: false }), Array.from(oracle.tokenize(text, true)), JSON.stringify(text));
    }
  });

  test(`${name}: addSpecialTokens puts BOS first and nothing last`, async () => {
    const tokenizer = await ggufTokenizer(path);
    const oracle = await llamaCppModel(path);
    assert.is(tokenizer.bosTokenId, 1);
    assert.equal(tokenizer.eosTokenIds, [2]);
    assert.ok(tokenizer.addBosToken);
    for (const text of corpus.slice(0, 40)) {
      assert.equal(tokenizer.encode(text), [1, ...oracle.tokenize(text, true)], JSON.stringify(text));
    }
    assert.equal(tokenizer.encode(""), [1]);
    assert.equal(tokenizer.encode("", { addSpecialTokens: false }), []);
  });

  test(`${name}: decode gives llama.cpp's text, with and without special tokens`, async () => {
    const tokenizer = await ggufTokenizer(path);
    const oracle = await llamaCppModel(path);
    for (const text of [...corpus, ...specialTokenStrings]) {
      const ids = Array.from(oracle.tokenize(text, true));
      assert.is(tokenizer.decode(ids), oracle.detokenize(ids, true), JSON.stringify(text));
      assert.is(tokenizer.decode(ids, { skipSpecialTokens: true }), oracle.detokenize(ids, false), JSON.stringify(text));
    }
  });

  test(`${name}: decode(encode(s)) is s unless s holds U+2581`, async () => {
    const tokenizer = await ggufTokenizer(path);
    for (const text of corpus.filter(canRoundTrip)) assert.is(tokenizer.decode(tokenizer.encode(text, { addSpecialTokens: false })), text);
    // The escaped space itself comes back as a space, as in SentencePiece.
    assert.is(tokenizer.decode(tokenizer.encode("x\u2581y", { addSpecialTokens: false })), "x y");
  });
}

test("special tokens: text after one gets the space prefix, and skipping drops them", async () => {
  const tokenizer = await ggufTokenizer(models260K.gguf);
  const ids = tokenizer.encode("<s>Once", { addSpecialTokens: false });
  assert.equal(ids, [1, 403]);
  assert.is(tokenizer.decode(ids), "<s> Once");
  assert.ok(tokenizer.isSpecial(1) && tokenizer.isSpecial(2) && tokenizer.isSpecial(0));
  assert.not.ok(tokenizer.isSpecial(403));
});

test("tokenText shows a piece as it reads mid-text", async () => {
  const tokenizer = await ggufTokenizer(models260K.gguf);
  assert.is(tokenizer.tokenText(403), " Once");
  assert.is(tokenizer.tokenText(1), "<s>");
  assert.is(tokenizer.tokenText(3 + 0x41), "A");
  assert.is(tokenizer.vocabSize, 512);
});

test.run();
