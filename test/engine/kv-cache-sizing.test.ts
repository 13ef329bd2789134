// KV cache sizing from a byte budget: exact block arithmetic, the startup capacity line, a clear
// error when one full-length sequence cannot fit, and the CUDA budget from gpuMemoryUtilization.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createEngine } from "../../runtime/engine/create-engine.ts";
import { checkKvCapacity, describeKvCapacity, gpuKvCacheMemoryBytes, kvCacheBytesPerBlock, numKvCacheBlocks } from "../../runtime/engine/kv-cache-sizing.ts";
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

test("on a GPU the cache gets gpuMemoryUtilization of the device less the model, net of block-table staging", () => {
  // Llama-3-8B shape (32 layers, 8 KV heads of 128, f32 cache here) on a 141 GiB device holding 17 GiB besides its cache.
  const llama8b = { numLayers: 32, numKvHeads: 8, headDim: 128, dtypeBytes: 4 };
  const block = kvCacheBytesPerBlock(llama8b, 16);
  const resident = { fixed: 17 * 2 ** 30, perBlock: 4 * 256 };
  const bytes = gpuKvCacheMemoryBytes(141 * 2 ** 30, 0.9, resident, llama8b, 16);
  const blocks = bytes / block;
  assert.ok(Number.isInteger(blocks), "a whole number of blocks");
  const used = resident.fixed + blocks * (block + resident.perBlock);
  assert.ok(used <= 0.9 * 141 * 2 ** 30 && used + block + resident.perBlock > 0.9 * 141 * 2 ** 30, `${used} bytes used: as many blocks as fit, no more`);
  assert.ok(gpuKvCacheMemoryBytes(141 * 2 ** 30, 0.5, resident, llama8b, 16) < bytes, "a lower utilization leaves less");
});

test("a GPU budget with no room for a block, or a utilization outside (0, 1], is a clear error", () => {
  const llama8b = { numLayers: 32, numKvHeads: 8, headDim: 128, dtypeBytes: 2 };
  const resident = { fixed: 17 * 2 ** 30, perBlock: 1024 };
  assert.throws(() => gpuKvCacheMemoryBytes(24 * 2 ** 30, 0.7, resident, llama8b, 16), (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_KV_CAPACITY" && /17\.00 GiB besides its KV cache/.test(e.message));
  for (const bad of [0, 1.5, Number.NaN]) {
    assert.throws(() => gpuKvCacheMemoryBytes(80 * 2 ** 30, bad, resident, llama8b, 16), (e: unknown) => e instanceof TsvllmError && e.code === "TSVLLM_ERR_INVALID_ARGUMENT" && e.param === "gpuMemoryUtilization");
  }
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
