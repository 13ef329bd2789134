// KV cache sizing from a byte budget: exact block arithmetic, the startup capacity line, and a
// clear error when one full-length sequence cannot fit.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createEngine } from "../../runtime/engine/llm-engine.ts";
import { checkKvCapacity, describeKvCapacity, kvCacheBytesPerBlock, numKvCacheBlocks } from "../../runtime/engine/kv-cache-sizing.ts";
import { TsvllmError } from "../../runtime/errors.ts";
import { testSamplerAddon, testTokenizer } from "../support/engine-harness.ts";
import { ReferenceModelRunner } from "../support/engine-reference-model.ts";

// TinyLlama-1.1B: 22 layers, 4 KV heads of 64, f16 cache.
const tinyLlama = { numLayers: 22, numKvHeads: 4, headDim: 64, dtypeBytes: 2 };

test("a block costs K and V for every layer, KV head and token", () => {
  assert.is(kvCacheBytesPerBlock(tinyLlama, 16), 2 * 22 * 4 * 64 * 2 * 16);
  assert.is(numKvCacheBlocks(1024 ** 3, tinyLlama, 16), Math.floor(1024 ** 3 / 360448));
});

test("the capacity line reports tokens and full-length concurrency", () => {
  assert.is(describeKvCapacity(100, 16, 2048), "KV cache: 100 blocks, 1600 tokens; maximum concurrency for 2048 tokens per request: 0.78x");
});

test("a budget smaller than one maxModelLen sequence is TSVLLM_ERR_KV_CAPACITY", () => {
  assert.throws(() => checkKvCapacity(127, tinyLlama, 16, 2048), (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_KV_CAPACITY" && /128 blocks/.test(e.message));
  checkKvCapacity(128, tinyLlama, 16, 2048);
});

test("createEngine sizes the runner's cache from kvCacheMemoryBytes and logs it", () => {
  const runner = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize, maxModelLen: 256, dim: 8 });
  let blocks = -1;
  runner.initializeKvCache = (numBlocks: number) => void (blocks = numBlocks);
  const lines: string[] = [];
  const bytesPerBlock = kvCacheBytesPerBlock(runner.config, 16);
  const engine = createEngine({ runner, tokenizer: testTokenizer, config: { kvCacheMemoryBytes: bytesPerBlock * 40 + 5 }, samplerAddon: testSamplerAddon(), logger: (l) => lines.push(l) });
  assert.is(blocks, 40);
  assert.is(engine.kvCacheManager.numBlocks, 40);
  assert.match(lines[0], /40 blocks, 640 tokens/);
  assert.throws(
    () => createEngine({ runner, tokenizer: testTokenizer, config: { kvCacheMemoryBytes: bytesPerBlock * 15 }, samplerAddon: testSamplerAddon(), logger: () => {} }),
    (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_KV_CAPACITY",
  );
});

test.run();
