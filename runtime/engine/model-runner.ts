// The boundary between the engine and a model: once per step the engine flattens the scheduled
// batch into typed arrays and makes ONE call that runs the whole forward pass. The runner owns the
// KV cache memory; the engine only decides which block and slot each token's K/V goes to.
import type { LoraAdapter } from "../lora/peft-adapter.ts";
import type { BlockCopy } from "./block-manager.ts";
import type { KvCacheSpec } from "./kv-cache-sizing.ts";
import type { SchedulerOutput } from "./scheduler.ts";

export interface ModelRunnerConfig extends KvCacheSpec {
  vocabSize: number;
  /** Positions the model supports (max_position_embeddings); caps the engine's maxModelLen. */
  maxModelLen: number;
}

/** One step of work, flattened: sequence s owns tokens queryStartLoc[s] .. queryStartLoc[s + 1]. */
export interface ModelInput {
  numSeqs: number;
  numTokens: number;
  /** [numTokens] token ids to compute. */
  inputIds: Int32Array;
  /** [numTokens] absolute position of each token in its sequence. */
  positions: Int32Array;
  /** [numTokens] KV slot (block * blockSize + offset) each token's key and value are written to. */
  slotMapping: Int32Array;
  /** [numSeqs, maxBlocksPerSeq] physical blocks of each sequence, padded with -1. */
  blockTables: Int32Array;
  maxBlocksPerSeq: number;
  /** [numSeqs] tokens each sequence attends over, this step's included. */
  contextLens: Int32Array;
  /** [numSeqs + 1] prefix sums of tokens per sequence. */
  queryStartLoc: Int32Array;
  /** [numLogitRows] token indices (into inputIds) whose logits execute() returns, in this order. */
  logitsIndices: Int32Array;
  /** [numCopies, 2] (src, dst) blocks to copy, all layers, before the forward pass (copy-on-write). */
  blockCopies: Int32Array;
  /** [numTokens] the LoRA slot of each token's adapter (-1: none); null when no token has one. */
  loraSlots?: Int32Array | null;
}

export interface ModelRunner {
  readonly config: ModelRunnerConfig;
  /** Allocates the paged KV cache: numBlocks blocks of blockSize tokens. Called once, before execute(). */
  initializeKvCache(numBlocks: number, blockSize: number): void;
  /** Runs the forward pass; returns logits [logitsIndices.length, vocabSize]. */
  execute(input: ModelInput): Float32Array;
  /**
   * Runs the forward pass and samples `sampling`'s rows in it, where the logits are: their token
   * ids in row order, and the logits only when returnLogits (else null), so a step whose rows are
   * all sampled there brings back no [rows, vocab] block. Optional: without it the engine samples
   * every row from execute()'s logits.
   */
  executeAndSample?(input: ModelInput, sampling: DeviceSampling, returnLogits: boolean): { tokenIds: Int32Array; logits: Float32Array | null };
  /** Which rows executeAndSample is for: every row the sampler allows, or greedy ones only. */
  readonly forwardSampling?: "all" | "greedy";
  /** Allocates numBlocks blocks of host swap space (preemptionMode "swap"); optional, and then swap is refused. */
  initializeSwapSpace?(numBlocks: number): void;
  /**
   * Moves whole blocks (all layers, K and V) before the step's execute(), in this order: swapOut's
   * [n, 2] (device block, swap block) pairs, then swapIn's (swap block, device block) pairs.
   */
  swapBlocks?(swapOut: Int32Array, swapIn: Int32Array): void;
  /** The LoRA slots the model was compiled with (enable_lora); absent: it runs no adapters. */
  readonly lora?: LoraRunner;
  /**
   * A pooling model (vLLM's embedding runner): execute() returns each logits row's final hidden
   * state, this many values, instead of its logits; it is never sampled. Absent: a generative model.
   */
  readonly poolingWidth?: number;
  close?(): void;
}

/** A model's LoRA slots: an adapter is put in a slot before the steps whose tokens name that slot. */
export interface LoraRunner {
  readonly maxLoras: number;
  readonly maxLoraRank: number;
  /** Throws (TsvllmError) unless every module the adapter trains is one the model can adapt, with its shape. */
  checkAdapter(adapter: LoraAdapter): void;
  /** Puts the adapter's matrices in the slot (null clears it). */
  setSlot(slot: number, adapter: LoraAdapter | null): void;
}

/**
 * The most logit edits one sample row may bring to the forward pass (the model sizes its staging for
 * maxNumSeqs rows of them); a row with more (a repetition penalty over a long prompt) is sampled
 * by the native sampler instead.
 */
export const maxLogitEditsPerRow = 4096;

/**
 * Rows sampled in the forward pass (dsl/kernels/sampling.ts: applyLogitEdits, then sampleRows,
 * which document the edits and the filters): row r draws from logits row rowIndices[r].
 */
export interface DeviceSampling {
  rowIndices: Int32Array;
  temperature: Float32Array;
  /** 0 or less, or the vocabulary size or more: no top-k. */
  topK: Int32Array;
  topP: Float32Array;
  minP: Float32Array;
  /** [rows, 4]: the sampler's RNG keys (seed low 32 bits, seed high 32 bits, sequence index, step). */
  rng: Uint32Array;
  /** [rows + 1]: row r's logit edits are entries editOffsets[r]..editOffsets[r + 1] of the edit arrays. */
  editOffsets: Int32Array;
  editTokenIds: Int32Array;
  /** Added first: logit_bias, or -Infinity for a banned token. */
  editBias: Float32Array;
  /** The repetition penalty for a token of the prompt or output, else 1. */
  editRepetition: Float32Array;
  /** frequency_penalty * the token's count in the output + presence_penalty, for a token of the output, else 0. */
  editSubtract: Float32Array;
}

/** Where a scheduled sequence's rows are in the logits execute() returns; -1 / 0 when absent. */
export interface LogitRows {
  /** First row of the prompt log-prob rows: row k scores prompt token firstPromptLogprobToken + k. */
  promptLogprobRow: number;
  numPromptLogprobRows: number;
  firstPromptLogprobToken: number;
  /** Row that samples the next token; with drafts, rows sampleRow + 1 .. sampleRow + drafts sample the token after each. */
  sampleRow: number;
}

/**
 * Prompt log-prob rows of one scheduled chunk: position p scores prompt token p + 1. Rows already
 * recorded (a preempted sequence recomputing its prompt) are not asked for again.
 */
function promptLogprobSpan(output: SchedulerOutput["scheduled"][number]): { first: number; count: number } {
  const { seq } = output;
  const next = seq.request.nextScoredPromptToken;
  if (next === null || seq.index !== 0) return { first: 0, count: 0 };
  const start = output.positions[0];
  const first = Math.max(start + 1, next);
  const end = Math.min(start + output.numScheduledTokens, seq.numPromptTokens - 1);
  return { first, count: Math.max(0, end - first + 1) };
}

/** A step's swaps as the [n, 2] (src, dst) pairs ModelRunner.swapBlocks takes. */
export function blockPairs(copies: readonly BlockCopy[]): Int32Array {
  const pairs = new Int32Array(copies.length * 2);
  copies.forEach((c, i) => pairs.set([c.src, c.dst], i * 2));
  return pairs;
}

export function buildModelInput(output: SchedulerOutput): { input: ModelInput; rows: LogitRows[] } {
  const { scheduled } = output;
  const numSeqs = scheduled.length;
  const maxBlocksPerSeq = scheduled.reduce((m, s) => Math.max(m, s.blockTable.length), 0);
  const blockTables = new Int32Array(numSeqs * maxBlocksPerSeq).fill(-1);
  const contextLens = new Int32Array(numSeqs);
  const queryStartLoc = new Int32Array(numSeqs + 1);
  const logitsIndices: number[] = [];
  const rows: LogitRows[] = [];
  for (let s = 0; s < numSeqs; s++) {
    const item = scheduled[s];
    blockTables.set(item.blockTable, s * maxBlocksPerSeq);
    contextLens[s] = item.contextLen;
    const start = queryStartLoc[s];
    queryStartLoc[s + 1] = start + item.numScheduledTokens;
    const span = promptLogprobSpan(item);
    const promptLogprobRow = logitsIndices.length;
    // The token at position p - 1 predicts prompt token p.
    for (let t = span.first; t < span.first + span.count; t++) logitsIndices.push(start + (t - 1 - item.positions[0]));
    const sampleRow = item.needsLogits ? logitsIndices.length : -1;
    // The last known token's row, then one row per draft: each checks the draft after it.
    const numDrafts = item.draftTokenIds.length;
    if (item.needsLogits) for (let d = numDrafts; d >= 0; d--) logitsIndices.push(queryStartLoc[s + 1] - 1 - d);
    rows.push({ promptLogprobRow, numPromptLogprobRows: span.count, firstPromptLogprobToken: span.first, sampleRow });
  }
  const input: ModelInput = {
    numSeqs,
    numTokens: output.totalNumScheduledTokens,
    inputIds: output.inputIds,
    positions: output.positions,
    slotMapping: output.slotMapping,
    blockTables,
    maxBlocksPerSeq,
    contextLens,
    queryStartLoc,
    logitsIndices: Int32Array.from(logitsIndices),
    blockCopies: blockPairs(output.blockCopies),
    loraSlots: null,
  };
  return { input, rows };
}
