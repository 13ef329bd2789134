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
