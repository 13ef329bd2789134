// Pooling types beyond LAST, on stories260K loaded as a pooling model. The oracle is the LAST
// pooler left unnormalized (the path embeddings.test.ts holds to the generative model): the final
// hidden state at position i is the LAST state of the prompt cut to i + 1 tokens. MEAN must be the
// mean of those states and CLS the first, whether the settings come from the checkpoint's
// sentence-transformers files (modules.json, 1_Pooling/config.json; no Normalize module: not
// normalized) or from poolerConfig over them; a batch, several chunk sizes and prefix caching
// (which such requests skip) give each prompt's embedding alone, and a prompt recomputed from its
// start pools afresh. Matryoshka
// `dimensions` keep the first values, then normalize; LLM.score is the cosine of two embeddings.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LLM } from "../../index.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { PooledStates } from "../../runtime/engine/pooled-states.ts";
import type { PoolerConfig } from "../../runtime/engine/pooling.ts";
import { loadCompiledModel } from "../../runtime/model/model-loader.ts";

const stories = "../shared/models/stories260K-hf";
const workDir = mkdtempSync(join(tmpdir(), "tsvllm-pooling-"));
const options = { logger: () => {}, loadModel: loadCompiledModel, maxModelLen: 128, task: "embed" as const };
const prompts = ["Once upon a time, there was a little girl named Lily.", "The dog", "Tom and Sue went to the park to play with a big red ball.", "A"];

/** A copy of stories260K with sentence-transformers files: a Pooling module with these modes, and a Normalize module when asked. */
function sentenceTransformersModel(name: string, modes: Record<string, boolean>, normalize: boolean, config: Record<string, unknown> = {}): string {
  const dir = join(workDir, name);
  cpSync(stories, dir, { recursive: true });
  const modules = [
    { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
    { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
    ...(normalize ? [{ idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" }] : []),
  ];
  writeFileSync(join(dir, "modules.json"), JSON.stringify(modules));
  mkdirSync(join(dir, "1_Pooling"));
  const allModes = { pooling_mode_cls_token: false, pooling_mode_mean_tokens: false, pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false, pooling_mode_weightedmean_tokens: false, pooling_mode_lasttoken: false, ...modes };
  writeFileSync(join(dir, "1_Pooling", "config.json"), JSON.stringify({ word_embedding_dimension: 64, ...allModes, include_prompt: true }));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...JSON.parse(readFileSync(join(stories, "config.json"), "utf8")), ...config }));
  return dir;
}

const meanModel = sentenceTransformersModel("st-mean", { pooling_mode_mean_tokens: true }, false);
const clsModel = sentenceTransformersModel("st-cls", { pooling_mode_cls_token: true }, true);
const matryoshkaModel = sentenceTransformersModel("st-matryoshka", { pooling_mode_lasttoken: true }, true, { matryoshka_dimensions: [8, 32] });

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));
const mean = (rows: number[][]) => rows[0].map((_, k) => rows.reduce((s, r) => s + r[k], 0) / rows.length);

/** Each prompt's final hidden state at every position, from LAST unnormalized embeddings of its prefixes. */
let states: number[][][];
let tokenIds: number[][];

test.before(async () => {
  const llm = await LLM.create({ model: stories, ...options, poolerConfig: { poolingType: "LAST", normalize: false } });
  tokenIds = prompts.map((p) => llm.tokenizer.encode(p));
  const prefixes = tokenIds.flatMap((ids) => ids.map((_, i) => ({ promptTokenIds: ids.slice(0, i + 1) })));
  const flat = (await llm.embed(prefixes)).map((o) => o.outputs.embedding);
  llm.close();
  let at = 0;
  states = tokenIds.map((ids) => flat.slice(at, (at += ids.length)));
});

async function embedWith(model: string, extra: { poolerConfig?: PoolerConfig; maxNumBatchedTokens?: number } = {}, input: string[] = prompts) {
  const llm = await LLM.create({ model, ...options, ...extra });
  try {
    return { pooling: llm.engine.pooling, embeddings: (await llm.embed(input)).map((o) => o.outputs.embedding), stats: llm.stats() };
  } finally {
    llm.close();
  }
}

test("modules.json with pooling_mode_mean_tokens and no Normalize module: MEAN, unnormalized, the mean of every position's state", async () => {
  const { pooling, embeddings } = await embedWith(meanModel);
  assert.equal(pooling, { poolingType: "MEAN", normalize: false, matryoshkaDimensions: null, isMatryoshka: false });
  embeddings.forEach((e, i) => assert.ok(maxDiff(e, mean(states[i])) < 1e-5, `prompt ${i}: ${maxDiff(e, mean(states[i]))}`));
});

test("pooling_mode_cls_token with a Normalize module: CLS, the first token's state at unit length", async () => {
  const { pooling, embeddings } = await embedWith(clsModel);
  assert.equal([pooling?.poolingType, pooling?.normalize], ["CLS", true]);
  embeddings.forEach((e, i) => {
    assert.ok(maxDiff(e, unit(states[i][0])) < 1e-5, `prompt ${i}`);
    assert.ok(Math.abs(Math.hypot(...e) - 1) < 1e-9);
  });
});

test("poolerConfig overrides the checkpoint's settings field by field; without either, LAST normalized", async () => {
  const normalized = await embedWith(meanModel, { poolerConfig: { normalize: true } });
  assert.equal([normalized.pooling?.poolingType, normalized.pooling?.normalize], ["MEAN", true]);
  normalized.embeddings.forEach((e, i) => assert.ok(maxDiff(e, unit(mean(states[i]))) < 1e-5, `MEAN normalized, prompt ${i}`));
  const last = await embedWith(meanModel, { poolerConfig: { poolingType: "LAST" } });
  assert.equal([last.pooling?.poolingType, last.pooling?.normalize], ["LAST", false]);
  last.embeddings.forEach((e, i) => assert.ok(maxDiff(e, states[i].at(-1)!) < 1e-5, `LAST from the checkpoint's normalize false, prompt ${i}`));
  const plain = await embedWith(stories);
  assert.equal([plain.pooling?.poolingType, plain.pooling?.normalize], ["LAST", true]);
  plain.embeddings.forEach((e, i) => assert.ok(maxDiff(e, unit(states[i].at(-1)!)) < 1e-5, `default, prompt ${i}`));
});

test("MEAN and CLS in a batch, and in 16-, 5- and 1-token steps, give each prompt's embedding alone", async () => {
  for (const model of [meanModel, clsModel]) {
    const alone: number[][] = [];
    for (const p of prompts) alone.push((await embedWith(model, {}, [p])).embeddings[0]);
    for (const extra of [{}, { maxNumBatchedTokens: 16 }, { maxNumBatchedTokens: 5 }, { maxNumBatchedTokens: 1 }]) {
      const input = [...prompts, ...prompts];
      const { embeddings, stats } = await embedWith(model, extra, input);
      // 1-token steps run decode attention, which sums in another order than a prefill's.
      embeddings.forEach((e, i) => assert.ok(maxDiff(e, alone[i % prompts.length]) < 1e-5, `${model}, prompt ${i}, ${JSON.stringify(extra)}`));
      assert.is(stats.kvCacheUsagePerc, 0);
    }
  }
});

test("a prompt's pool starts over when its states come again from position 0 (recompute after preemption)", () => {
  const pool = new PooledStates();
  const hidden = Float32Array.from([1, 2, 3, 4, 5, 6]);
  pool.add(hidden, 2, { firstRow: 0, numRows: 2, firstPosition: 0 });
  pool.add(hidden, 2, { firstRow: 0, numRows: 3, firstPosition: 0 });
  assert.equal(Array.from(pool.pooled()), [3, 4]);
  pool.add(hidden, 2, { firstRow: 2, numRows: 1, firstPosition: 3 });
  assert.equal(Array.from(pool.pooled()), [3.5, 4.5]);
});

test("MEAN and CLS requests skip the prefix cache (their cached tokens would bring no states); LAST ones read it", async () => {
  const long = `${prompts[0]} ${prompts[2]} ${prompts[0]}`;
  for (const [model, hits] of [[meanModel, false], [clsModel, false], [stories, true]] as const) {
    const llm = await LLM.create({ model, ...options });
    const [first] = await llm.embed(long);
    const [second] = await llm.embed(long);
    assert.is(llm.stats().prefixCacheHits > 0, hits, `${model}: prefix cache hits`);
    assert.ok(maxDiff(first.outputs.embedding, second.outputs.embedding) < 1e-6, `${model}: the same embedding the second time`);
    llm.close();
  }
});

test("Matryoshka: dimensions keeps the first values, then normalizes; sizes the config does not list, and non-Matryoshka models, are refused", async () => {
  const llm = await LLM.create({ model: matryoshkaModel, ...options });
  assert.equal([llm.engine.pooling?.isMatryoshka, llm.engine.pooling?.matryoshkaDimensions], [true, [8, 32]]);
  const [short] = await llm.embed(prompts[0], { dimensions: 8 });
  assert.is(short.outputs.embedding.length, 8);
  assert.ok(maxDiff(short.outputs.embedding, unit(states[0].at(-1)!.slice(0, 8))) < 1e-5);
  const refused = (e: unknown, message: RegExp) => e instanceof TsvllmError && e.param === "dimensions" && message.test(e.message);
  await llm.embed(prompts[0], { dimensions: 16 }).then(() => assert.unreachable("16 is not one of [8, 32]"), (e) => assert.ok(refused(e, /only supports \[8, 32\] matryoshka dimensions/)));
  llm.close();
  const plain = await LLM.create({ model: stories, ...options });
  await plain.embed(prompts[0], { dimensions: 8 }).then(() => assert.unreachable("not a Matryoshka model"), (e) => assert.ok(refused(e, /does not support matryoshka representation/)));
  plain.close();
});

test("LLM.score: the cosine of the two texts' embeddings, one against many and pairwise; other shapes are refused", async () => {
  const llm = await LLM.create({ model: meanModel, ...options });
  const embeddings = (await llm.embed(prompts)).map((o) => o.outputs.embedding);
  const cosine = (a: number[], b: number[]) => a.reduce((s, x, k) => s + x * b[k], 0) / Math.hypot(...a) / Math.hypot(...b);
  const oneToMany = await llm.score(prompts[0], prompts.slice(1));
  assert.equal(oneToMany.length, 3);
  oneToMany.forEach((o, j) => assert.ok(Math.abs(o.outputs.score - cosine(embeddings[0], embeddings[j + 1])) < 1e-6, `pair ${j}`));
  assert.is(oneToMany[0].promptTokenIds.length, tokenIds[0].length + tokenIds[1].length);
  const pairwise = await llm.score(prompts.slice(0, 2), prompts.slice(2));
  pairwise.forEach((o, j) => assert.ok(Math.abs(o.outputs.score - cosine(embeddings[j], embeddings[j + 2])) < 1e-6, `pair ${j}`));
  await llm.score(prompts.slice(0, 2), prompts.slice(1)).then(() => assert.unreachable("2 against 3"), (e) => assert.ok(e instanceof TsvllmError && /1:1, 1:N or N:N/.test(e.message)));
  llm.close();
});

test.after(() => rmSync(workDir, { recursive: true, force: true }));
test.run();
