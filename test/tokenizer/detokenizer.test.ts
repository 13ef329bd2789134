// Incremental detokenization: the deltas, concatenated, equal decode() of all ids; an incomplete
// UTF-8 character is held back until its last byte token arrives.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadModel } from "../../runtime/loader/index.ts";
import { loadTokenizer } from "../../runtime/tokenizer/index.ts";
import type { Tokenizer } from "../../runtime/tokenizer/types.ts";
import { specialTokenStrings, tokenizerCorpus } from "../support/tokenizer-corpus.ts";
import { models260K } from "../support/tokenizer-llama.ts";

const corpus = [...tokenizerCorpus(), ...specialTokenStrings];
const tokenizers: [string, Tokenizer][] = [];

test.before(async () => {
  for (const [name, path] of [["gguf", models260K.gguf], ["hf", models260K.hf], ["llama-2 gguf", models260K.llama2Gguf]]) {
    tokenizers.push([name, await loadTokenizer(await loadModel(path))]);
  }
});

test("concatenated deltas equal decode(all ids), with and without special tokens", () => {
  for (const [name, tokenizer] of tokenizers) {
    for (const skipSpecialTokens of [false, true]) {
      for (const text of corpus) {
        const ids = tokenizer.encode(text);
        const detokenizer = tokenizer.createDetokenizer({ skipSpecialTokens });
        const deltas = ids.map((id) => detokenizer.push(id));
        const full = tokenizer.decode(ids, { skipSpecialTokens });
        assert.is(deltas.join(""), full, `${name} ${JSON.stringify(text)}`);
        assert.is(detokenizer.text, full);
        assert.not.ok(deltas.some((delta) => delta.includes("\uFFFD")), `${name}: no partial character in ${JSON.stringify(text)}`);
      }
    }
  }
});

test("a character spelled by byte tokens comes out whole, with its last byte", () => {
  const [, tokenizer] = tokenizers[0];
  const ids = tokenizer.encode("😀", { addSpecialTokens: false });
  // "▁" and then the emoji's four UTF-8 bytes as byte-fallback tokens.
  assert.is(ids.length, 5);
  const detokenizer = tokenizer.createDetokenizer();
  assert.equal(ids.map((id) => detokenizer.push(id)), ["", "", "", "", "😀"]);
});

test("prompt ids give context: the first generated word keeps its leading space", () => {
  for (const [name, tokenizer] of tokenizers) {
    const ids = tokenizer.encode("Once upon a time there was a dog");
    const promptLength = tokenizer.encode("Once upon a time").length;
    const detokenizer = tokenizer.createDetokenizer({ promptIds: ids.slice(0, promptLength), skipSpecialTokens: true });
    const deltas = ids.slice(promptLength).map((id) => detokenizer.push(id));
    assert.is(deltas[0], " there", name);
    assert.is(deltas.join(""), " there was a dog", name);
    assert.is(detokenizer.text, " there was a dog", name);
  }
});

test.run();
