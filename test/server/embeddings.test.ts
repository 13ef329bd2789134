// POST /v1/embeddings on stories260K loaded as a pooling model (serve --task embed): the official
// openai client (which asks for base64 by default) and a plain JSON request for floats get the
// offline LLM.embed embeddings, in input order, for text and token-id inputs; a generative server
// refuses embeddings and a pooling one completions, both with a 400 naming the task. Matryoshka
// `dimensions` is refused with vLLM's message unless config.json says the model is one; then each
// embedding is its first `dimensions` values at unit length.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { AsyncLLM, LLM } from "../../index.ts";
import { createServer } from "../../server/app.ts";
import { listenWithClient, postJson } from "../support/server-harness.ts";
import { startPoolingServers, type PoolingServers } from "./pooling-servers.ts";

const test = suite("/v1/embeddings");
const model = "../shared/models/stories260K-hf";
const inputs = ["Once upon a time", "The little dog ran to the park.", "Lily and Ben"];
const options = { model, maxNumSeqs: 8, maxModelLen: 256, logger: () => {} };
let servers: PoolingServers;
let pooling: AsyncLLM;
let client: OpenAI;
let base: string;
let generativeBase: string;
let expected: number[][];

test.before(async () => {
  const offline = await LLM.create({ ...options, task: "embed" });
  expected = (await offline.embed(inputs)).map((o) => o.outputs.embedding);
  offline.close();
  servers = await startPoolingServers(options);
  ({ pooling, client, base, generativeBase } = servers);
});
test.after(() => servers?.close());

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test("the openai client (base64) gets the offline embeddings, in input order", async () => {
  const response = await client.embeddings.create({ model: "stories", input: inputs });
  assert.is(response.object, "list");
  assert.is(response.data.length, inputs.length);
  response.data.forEach((d, i) => {
    assert.is(d.index, i);
    assert.ok(maxDiff(d.embedding, expected[i]) < 1e-6, `input ${i}`);
  });
  assert.ok(response.usage.prompt_tokens > inputs.length && response.usage.total_tokens === response.usage.prompt_tokens);
});

test("floats on request; token-id inputs embed like their text", async () => {
  const ids = pooling.tokenizer.encode(inputs[1]);
  const { status, json } = await postJson(`${base}/v1/embeddings`, { input: [ids], encoding_format: "float" });
  assert.is(status, 200);
  assert.ok(maxDiff(json.data[0].embedding, expected[1]) < 1e-6);
  assert.is(json.usage.prompt_tokens, ids.length);
});

test("refusals: dimensions, embeddings from a generative server, completions from a pooling one", async () => {
  const dims = await postJson(`${base}/v1/embeddings`, { input: "hi", dimensions: 8 });
  assert.is(dims.status, 400);
  assert.is(dims.json.error.param, "dimensions");
  assert.is(dims.json.error.message, 'Model "stories" does not support matryoshka representation, changing output dimensions will lead to poor results.');
  const embedding = await postJson(`${generativeBase}/v1/embeddings`, { input: "hi" });
  assert.is(embedding.status, 400);
  assert.is(embedding.json.error.param, "task");
  const completion = await postJson(`${base}/v1/completions`, { prompt: "hi", max_tokens: 4 });
  assert.is(completion.status, 400);
  assert.is(completion.json.error.param, "task");
  assert.is(pooling.stats().kvCacheUsagePerc, 0);
});

test("a Matryoshka model (is_matryoshka in config.json) gives each embedding's first `dimensions` values at unit length", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsvllm-matryoshka-"));
  cpSync(model, dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...JSON.parse(readFileSync(join(model, "config.json"), "utf8")), is_matryoshka: true }));
  const engine = await AsyncLLM.create({ ...options, model: dir, task: "embed" });
  const app = createServer({ engine, servedModelName: ["stories"] });
  try {
    const { base: matryoshkaBase, client: matryoshka } = await listenWithClient(app);
    const response = await matryoshka.embeddings.create({ model: "stories", input: inputs, dimensions: 8 });
    response.data.forEach((d, i) => {
      const head = expected[i].slice(0, 8);
      assert.ok(maxDiff(d.embedding, head.map((v) => v / Math.hypot(...head))) < 1e-6, `input ${i}`);
    });
    const zero = await postJson(`${matryoshkaBase}/v1/embeddings`, { input: "hi", dimensions: 0 });
    assert.equal([zero.status, zero.json.error.message], [400, "Dimensions must be greater than 0"]);
  } finally {
    await app.close();
    await engine.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
