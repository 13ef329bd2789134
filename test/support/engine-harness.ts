// Builds engines over the reference model and the test tokenizer, and checks the block
// bookkeeping invariant every engine test relies on: each block is free or held by exactly its
// live owners.
import { buildAddon, loadAddon } from "../../codegen/build/addon.ts";
import type { EngineArgs } from "../../runtime/engine/config.ts";
import { createEngine } from "../../runtime/engine/create-engine.ts";
import type { LLMEngine } from "../../runtime/engine/llm-engine.ts";
import type { ModelRunner } from "../../runtime/engine/model-runner.ts";
import type { NativeSamplerAddon } from "../../runtime/engine/sampler-addon.ts";
import type { RequestOutput } from "../../runtime/engine/types.ts";
import { seededRandom } from "./engine-random.ts";
import { ReferenceModelRunner } from "./engine-reference-model.ts";
import { EngineTestTokenizer } from "./engine-tokenizer.ts";

let addon: NativeSamplerAddon | null = null;

export function testSamplerAddon(): NativeSamplerAddon {
  addon ??= loadAddon<NativeSamplerAddon>(buildAddon({ name: "engine_test", kernels: [] }).path);
  return addon;
}

export const testTokenizer = new EngineTestTokenizer();

export function makeTestEngine(config: EngineArgs = {}, runner: ModelRunner = new ReferenceModelRunner({ vocabSize: testTokenizer.vocabSize })): LLMEngine {
  // The reference model's cache is plain JS memory: size it in blocks, not from the 4 GiB default.
  return createEngine({ runner, tokenizer: testTokenizer, config: { numGpuBlocksOverride: 1024, ...config }, samplerAddon: testSamplerAddon(), logger: () => {} });
}

/**
 * Throws unless every block's ref count equals the number of live sequences holding it, and every
 * swap block is held by exactly one swapped-out sequence (and free otherwise).
 */
export function checkBlockInvariants(engine: LLMEngine): void {
  const kv = engine.kvCacheManager;
  const owners = new Int32Array(kv.numBlocks);
  const swapOwners = new Int32Array(kv.swapSpace.numBlocks);
  for (const request of engine.liveRequests()) {
    for (const seq of request.sequences) {
      if (seq.status !== "running" && seq.blockTable.length > 0) throw new Error(`${seq.status} sequence ${seq.seqId} still holds blocks ${seq.blockTable}`);
      if (seq.status !== "swapped" && seq.swappedBlockTable.length > 0) throw new Error(`${seq.status} sequence ${seq.seqId} still holds swap blocks ${seq.swappedBlockTable}`);
      if (seq.status === "swapped" && seq.swappedBlockTable.length !== Math.ceil(seq.numComputedTokens / kv.blockSize)) {
        throw new Error(`swapped sequence ${seq.seqId} holds ${seq.swappedBlockTable.length} swap blocks for ${seq.numComputedTokens} computed tokens`);
      }
      for (const blockId of seq.blockTable) owners[blockId]++;
      for (const blockId of seq.swappedBlockTable) swapOwners[blockId]++;
    }
  }
  for (let b = 0; b < kv.swapSpace.numBlocks; b++) {
    if (swapOwners[b] > 1) throw new Error(`swap block ${b} has ${swapOwners[b]} owners`);
    if (kv.swapSpace.isHeld(b) !== (swapOwners[b] === 1)) throw new Error(`swap block ${b} is ${kv.swapSpace.isHeld(b) ? "held" : "free"} with ${swapOwners[b]} owners`);
  }
  for (let b = 0; b < kv.numBlocks; b++) {
    if (kv.refCount(b) !== owners[b]) throw new Error(`block ${b} has ref count ${kv.refCount(b)} but ${owners[b]} live owners`);
    if (kv.isFree(b) !== (owners[b] === 0)) throw new Error(`block ${b} is ${kv.isFree(b) ? "free" : "not free"} with ${owners[b]} owners`);
  }
  if (kv.freeBlockIds().length !== kv.numFreeBlocks) throw new Error("free queue length disagrees with its contents");
}

/** Deterministic prompts of varied lengths over the byte tokens (ids 3..258). */
export function randomPrompts(count: number, seed: number, minLen: number, maxLen: number): number[][] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => Array.from({ length: minLen + Math.floor(rand() * (maxLen - minLen + 1)) }, () => 3 + Math.floor(rand() * 256)));
}

/** Steps until the engine has nothing left, checking invariants after every step. */
export function drain(engine: LLMEngine, check = true): Map<string, RequestOutput> {
  const finals = new Map<string, RequestOutput>();
  for (let guard = 0; engine.hasUnfinishedRequests(); guard++) {
    if (guard > 100_000) throw new Error("engine did not finish");
    for (const output of engine.step()) if (output.finished) finals.set(output.requestId, output);
    if (check) checkBlockInvariants(engine);
  }
  return finals;
}
