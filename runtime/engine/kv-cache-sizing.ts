// How many KV blocks a memory budget buys, and whether that is enough for one full-length
// sequence. Exact sizing (not profiling) is what keeps the engine out of OOM territory.
import { TsvllmError } from "../errors.ts";

/** What one token costs in the KV cache: a key and a value per layer and KV head. */
export interface KvCacheSpec {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** Bytes per element of the cache dtype (2 for bf16/f16, 4 for f32). */
  dtypeBytes: number;
}

export function kvCacheBytesPerBlock(spec: KvCacheSpec, blockSize: number): number {
  return 2 * spec.numLayers * spec.numKvHeads * spec.headDim * spec.dtypeBytes * blockSize;
}

export function numKvCacheBlocks(memoryBytes: number, spec: KvCacheSpec, blockSize: number): number {
  return Math.floor(memoryBytes / kvCacheBytesPerBlock(spec, blockSize));
}

/**
 * The KV cache budget on a GPU, from vLLM's gpu_memory_utilization: that fraction of the device's
 * memory, less what the model holds besides the cache (`resident.fixed`), shared between the
 * blocks and their block-table staging (`resident.perBlock` bytes each), as bytes of cache.
 */
export function gpuKvCacheMemoryBytes(totalBytes: number, utilization: number, resident: { fixed: number; perBlock: number }, spec: KvCacheSpec, blockSize: number): number {
  if (!(utilization > 0 && utilization <= 1)) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `gpuMemoryUtilization must be in (0, 1], got ${utilization}`, "gpuMemoryUtilization");
  const blockBytes = kvCacheBytesPerBlock(spec, blockSize);
  const budget = utilization * totalBytes - resident.fixed;
  if (budget < blockBytes + resident.perBlock) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
    throw new TsvllmError("TSVLLM_ERR_KV_CAPACITY", `the model holds ${gib(resident.fixed)} besides its KV cache, which leaves no room for one block within ${utilization} of the device's ${gib(totalBytes)}: raise gpuMemoryUtilization or lower maxNumBatchedTokens`, "gpuMemoryUtilization");
  }
  return Math.floor(budget / (blockBytes + resident.perBlock)) * blockBytes;
}

/** Throws TSVLLM_ERR_KV_CAPACITY when one sequence of maxModelLen tokens cannot fit. */
export function checkKvCapacity(numBlocks: number, spec: KvCacheSpec, blockSize: number, maxModelLen: number): void {
  const needed = Math.ceil(maxModelLen / blockSize);
  if (numBlocks >= needed) return;
  const neededBytes = needed * kvCacheBytesPerBlock(spec, blockSize);
  throw new TsvllmError(
    "TSVLLM_ERR_KV_CAPACITY",
    `the KV cache holds ${numBlocks * blockSize} tokens (${numBlocks} blocks of ${blockSize}), but one sequence of ` +
      `maxModelLen ${maxModelLen} needs ${needed} blocks (${neededBytes} bytes): raise the KV cache memory or lower maxModelLen`,
    "maxModelLen",
  );
}

/** The log line vLLM prints at startup: token capacity and how many full-length requests fit. */
export function describeKvCapacity(numBlocks: number, blockSize: number, maxModelLen: number): string {
  const tokens = numBlocks * blockSize;
  const concurrency = numBlocks / Math.ceil(maxModelLen / blockSize);
  return `KV cache: ${numBlocks} blocks, ${tokens} tokens; maximum concurrency for ${maxModelLen} tokens per request: ${concurrency.toFixed(2)}x`;
}
