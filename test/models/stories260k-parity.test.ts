// stories260K (a real trained TinyStories LLaMA) against llama.cpp on the same weights, from the
// GGUF file and from the Hugging Face folder: teacher-forced next-token distributions within 1e-4
// in probability and top-1 log-prob within 1e-3 (llama.cpp with an f32 KV cache), and greedy 128
// tokens identical for 8 prompts.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { loadModel } from "../../runtime/loader/index.ts";
import { loadTokenizer } from "../../runtime/tokenizer/index.ts";
import type { CompiledModelRunner } from "../../runtime/model/compiled-runner.ts";
import { createModelRunner } from "../../runtime/model/load-runner.ts";
import { openOracle, type LlamaCppOracle } from "../oracles/llamacpp.ts";
import { greedy, SingleSequence, softmax } from "../support/model-driver.ts";

const gguf = "../shared/models/stories260K/stories260K.gguf";
const sources = { gguf, hf: "../shared/models/stories260K-hf" };
const prompts = [
  "Once upon a time",
  "The little dog",
  "Lily and Ben went to the park. They",
  "One day, a girl named Sue found a",
  "Tom was sad because",
  "The sun was hot and",
  "Once upon a time, there was a big red ball that",
  "Mom said, \"",
];
const BS = 16;
const NB = 64;

let oracle: LlamaCppOracle;

for (const [kind, path] of Object.entries(sources)) {
  const t = suite(`stories260K (${kind}) vs llama.cpp`);
  let runner: CompiledModelRunner;
  let encode: (s: string) => number[];
  t.before(async () => {
    oracle ??= await openOracle(gguf, { contextSize: 512 });
    const loaded = await loadModel(path);
    const tokenizer = await loadTokenizer(loaded, kind === "hf" ? path : undefined);
    encode = (s) => tokenizer.encode(s, { addSpecialTokens: true });
    runner = createModelRunner(loaded, { maxNumBatchedTokens: 256, threads: 1 });
  });

  t("tokenizes the prompts as llama.cpp does", () => {
    for (const p of prompts) assert.equal(encode(p), oracle.tokenize(p, true), p);
  });

  t("teacher-forced distributions match within 1e-4 (top-1 log-prob within 1e-3)", async () => {
    for (const p of prompts) {
      const ids = [...encode(p), ...(await oracle.greedy(encode(p), 24))];
      const expected = await oracle.nextTokenDistributions(ids);
      runner.initializeKvCache(NB, BS);
      const logits = new SingleSequence(runner, BS, NB).feed(ids, true);
      const V = runner.config.vocabSize;
      let worst = 0;
      ids.forEach((_, i) => {
        const ours = softmax(logits.subarray(i * V, (i + 1) * V));
        const theirs = expected[i];
        let top = 0;
        for (let v = 0; v < V; v++) {
          worst = Math.max(worst, Math.abs(ours[v] - theirs[v]));
          if (theirs[v] > theirs[top]) top = v;
        }
        assert.ok(Math.abs(Math.log(ours[top]) - Math.log(theirs[top])) < 1e-3, `${p} position ${i}: top-1 log-prob ${Math.log(ours[top])} vs ${Math.log(theirs[top])}`);
      });
      assert.ok(worst < 1e-4, `${p}: max |Δp| = ${worst}`);
    }
  });

  t("greedy 128 tokens are identical to llama.cpp's", async () => {
    for (const p of prompts) {
      const ids = encode(p);
      const theirs = await oracle.greedy(ids, 128);
      const ours = greedy(runner, BS, NB, ids, 128, [2]);
      assert.equal(ours, theirs, p);
    }
  });

  t.run();
}
