// tokenizer.json through @huggingface/tokenizers gives llama.cpp's ids for the same vocabulary
// (stories260K-hf was derived from stories260K.gguf; see its PROVENANCE.md).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadModel } from "../../runtime/loader/index.ts";
import { loadTokenizer } from "../../runtime/tokenizer/index.ts";
import type { Tokenizer } from "../../runtime/tokenizer/types.ts";
import { canRoundTrip, specialTokenStrings, tokenizerCorpus } from "../support/tokenizer-corpus.ts";
import { llamaCppModel, models260K } from "../support/tokenizer-llama.ts";

const corpus = tokenizerCorpus();
let tokenizer: Tokenizer;

test.before(async () => {
  tokenizer = await loadTokenizer(await loadModel(models260K.hf));
});

test("encode gives llama.cpp's ids for every corpus string", async () => {
  const oracle = await llamaCppModel(models260K.gguf);
  for (const text of [...corpus, ...specialTokenStrings]) {
    assert.equal(tokenizer.encode(text, { addSpecialTokens: false }), Array.from(oracle.tokenize(text, true)), JSON.stringify(text));
  }
});

test("addSpecialTokens adds BOS (tokenizer_config add_bos_token) and no EOS", async () => {
  const oracle = await llamaCppModel(models260K.gguf);
  assert.is(tokenizer.bosTokenId, 1);
  assert.equal(tokenizer.eosTokenIds, [2]);
  assert.ok(tokenizer.addBosToken);
  for (const text of corpus.slice(1, 40)) assert.equal(tokenizer.encode(text), [1, ...oracle.tokenize(text, true)], JSON.stringify(text));
});

test("decode matches llama.cpp for ids that do not start with BOS", async () => {
  const oracle = await llamaCppModel(models260K.gguf);
  for (const text of corpus) {
    const ids = Array.from(oracle.tokenize(text, true));
    assert.is(tokenizer.decode(ids), oracle.detokenize(ids, true), JSON.stringify(text));
  }
});

test("decode(encode(s)) is s unless s holds U+2581", () => {
  for (const text of corpus.filter(canRoundTrip)) assert.is(tokenizer.decode(tokenizer.encode(text, { addSpecialTokens: false })), text);
});

test("skipSpecialTokens drops BOS/EOS; an empty id list decodes to an empty string", () => {
  const ids = tokenizer.encode("Once upon a time");
  assert.is(ids[0], 1);
  assert.is(tokenizer.decode([...ids, 2], { skipSpecialTokens: true }), "Once upon a time");
  assert.is(tokenizer.decode([...ids, 2]), "<s> Once upon a time</s>");
  assert.is(tokenizer.decode([]), "");
});

test("special tokens, vocabulary size and token texts", () => {
  assert.ok(tokenizer.isSpecial(0) && tokenizer.isSpecial(1) && tokenizer.isSpecial(2));
  assert.not.ok(tokenizer.isSpecial(403));
  assert.is(tokenizer.vocabSize, 512);
  assert.is(tokenizer.tokenText(403), " Once");
  assert.is(tokenizer.tokenText(2), "</s>");
});

test.run();
