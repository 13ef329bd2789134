// The GGUF byte-level BPE tokenizer ("gpt2" vocabularies: Qwen2/3, Llama-3) gives llama.cpp's ids and
// text for each supported pre-tokenizer. The vocabulary is trained on the corpus by the test support.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TsvllmError } from "../../runtime/errors.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { loadTokenizer } from "../../runtime/tokenizer/index.ts";
import { byteLevelBpeGguf } from "../support/tokenizer-bpe-vocab.ts";
import { tokenizerCorpus } from "../support/tokenizer-corpus.ts";
import { llamaCppModel } from "../support/tokenizer-llama.ts";
import { useTempDir } from "../support/loader-temp-dir.ts";

const corpus = [...tokenizerCorpus(), "<|endoftext|>hi there<|endoftext|>", "a<|endoftext|>b"];
const tempDir = useTempDir(test, "tsvllm-bpe-");

async function writeVocab(pre: string): Promise<string> {
  const path = join(tempDir(), `bpe-${pre}.gguf`);
  await writeFile(path, byteLevelBpeGguf(pre));
  return path;
}

for (const pre of ["qwen2", "llama-bpe", "gpt-2", "default"]) {
  test(`pre-tokenizer ${pre}: llama.cpp's ids and decoded text for every corpus string`, async () => {
    const path = await writeVocab(pre);
    const tokenizer = await loadTokenizer(await loadModel(path));
    const oracle = await llamaCppModel(path);
    for (const text of corpus) {
      const ids = Array.from(oracle.tokenize(text, true));
      assert.equal(tokenizer.encode(text, { addSpecialTokens: false }), ids, JSON.stringify(text));
      assert.is(tokenizer.decode(ids), oracle.detokenize(ids, true), JSON.stringify(text));
    }
  });
}

test("qwen2 decoding keeps every space: decode(encode(s)) is s", async () => {
  const tokenizer = await loadTokenizer(await loadModel(await writeVocab("qwen2")));
  for (const text of corpus) assert.is(tokenizer.decode(tokenizer.encode(text)), text);
  const endOfText = tokenizer.eosTokenIds[0];
  assert.is(tokenizer.tokenText(endOfText), "<|endoftext|>");
  assert.ok(tokenizer.isSpecial(endOfText));
  assert.not.ok(tokenizer.addBosToken);
});

test("an unknown pre-tokenizer is a tokenizer error naming the key", async () => {
  const path = await writeVocab("made-up");
  try {
    await loadTokenizer(await loadModel(path));
    assert.unreachable();
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).code, "TSVLLM_ERR_TOKENIZER");
    assert.match((error as TsvllmError).message, 'tokenizer.ggml.pre "made-up" is not supported');
  }
});

test.run();
