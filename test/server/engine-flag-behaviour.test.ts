// What the vLLM engine flags change once a real model loads (stories260K, compiled): --tokenizer
// gives a GGUF model the Hugging Face tokenizer, --hf-overrides reaches max_model_len,
// --disable-sliding-window caps max_model_len to the window, and --max-logprobs (20 by default)
// refuses larger requests in the engine and at the server with a 400 naming the field.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AsyncLLM } from "../../index.ts";
import { samplingParams } from "../../runtime/engine/types.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { HfTokenizer } from "../../runtime/tokenizer/index.ts";
import { createServer } from "../../server/app.ts";
import { listenWithClient, postJson } from "../support/server-harness.ts";

const hf = "../shared/models/stories260K-hf";
const gguf = "../shared/models/stories260K/stories260K.gguf";
const small = { maxNumSeqs: 4, maxNumBatchedTokens: 512, kvCacheMemoryBytes: 16 * 2 ** 20, logger: () => {} };

async function withEngine<T>(options: Parameters<typeof AsyncLLM.create>[0], use: (engine: AsyncLLM) => Promise<T>): Promise<T> {
  const engine = await AsyncLLM.create({ ...small, ...options });
  try {
    return await use(engine);
  } finally {
    await engine.shutdown();
  }
}

async function drain(engine: AsyncLLM, params: Partial<Parameters<typeof samplingParams>[0]>): Promise<void> {
  for await (const _ of engine.generate("Once upon a time", samplingParams({ maxTokens: 2, temperature: 0, ...params }), { requestId: `r${Math.random()}` }));
}

test("--tokenizer on a GGUF model: the engine tokenizes with the Hugging Face folder's tokenizer", async () => {
  await withEngine({ model: gguf, tokenizerPath: hf }, async (engine) => {
    assert.instance(engine.tokenizer, HfTokenizer);
    assert.equal(engine.tokenizer.encode("Once upon a time"), [1, 403, 407, 261, 378]);
  });
});

test("--hf-overrides max_position_embeddings becomes the engine's max_model_len", async () => {
  await withEngine({ model: hf, hfOverrides: { max_position_embeddings: 256 } }, async (engine) => assert.is(engine.maxModelLen, 256));
});

test("--disable-sliding-window caps max_model_len to the window; a longer --max-model-len names maxModelLen", async () => {
  const windowed = { model: hf, hfOverrides: { sliding_window: 64 } };
  await withEngine({ ...windowed, disableSlidingWindow: true }, async (engine) => assert.is(engine.maxModelLen, 64));
  await withEngine(windowed, async (engine) => assert.is(engine.maxModelLen, 512));
  try {
    await AsyncLLM.create({ ...small, ...windowed, disableSlidingWindow: true, maxModelLen: 128 });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, TsvllmError);
    assert.is((error as TsvllmError).param, "maxModelLen");
  }
});

test("--max-logprobs: 21 refused by vLLM's default of 20, in the engine and at the server; a raised cap allows it", async () => {
  await withEngine({ model: hf }, async (engine) => {
    await drain(engine, { logprobs: 20 });
    for (const field of ["logprobs", "promptLogprobs"] as const) {
      try {
        await drain(engine, { [field]: 21 });
        assert.unreachable();
      } catch (error) {
        assert.instance(error, TsvllmError);
        assert.match((error as TsvllmError).message, "which is greater than max allowed: 20");
      }
    }
    const app = createServer({ engine, servedModelName: ["m"] });
    const { base } = await listenWithClient(app);
    try {
      const { status, json } = await postJson(`${base}/v1/chat/completions`, { messages: [{ role: "user", content: "x" }], logprobs: true, top_logprobs: 21, max_tokens: 1 });
      assert.is(status, 400);
      assert.is(json.error.param, "top_logprobs");
    } finally {
      await app.close();
    }
  });
  await withEngine({ model: hf, maxLogprobs: 30 }, async (engine) => {
    const app = createServer({ engine, servedModelName: ["m"] });
    const { base } = await listenWithClient(app);
    try {
      const { status, json } = await postJson(`${base}/v1/completions`, { prompt: "Once upon a time", logprobs: 25, max_tokens: 1, temperature: 0 });
      assert.is(status, 200, JSON.stringify(json));
      assert.is(Object.keys(json.choices[0].logprobs.top_logprobs[0]).length, 25);
    } finally {
      await app.close();
    }
  });
});

test.run();
