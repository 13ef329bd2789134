// The native sampler's calling convention (runtime/native/sampler.cc) and how the engine gets an
// addon that has it. Every compiled model addon exports these functions too, so a model runner
// can hand its own addon over instead of building the kernel-free one here.
import { buildAddon, loadAddon } from "../../codegen/build/addon.ts";

/**
 * One sampling call. Rows are sample rows (one per sequence that gets a token this step); row r
 * reads logits row rowIndices[r]. Per-row lists are CSR: offsets [numRows + 1] into a flat array.
 */
export interface NativeSampleBatch {
  numRows: number;
  vocabSize: number;
  /** [numLogitRows, vocabSize], read only. */
  logits: Float32Array;
  rowIndices: Int32Array;
  temperature: Float32Array;
  topP: Float32Array;
  /** 0 or less: the whole vocabulary. */
  topK: Int32Array;
  minP: Float32Array;
  presencePenalty: Float32Array;
  frequencyPenalty: Float32Array;
  repetitionPenalty: Float32Array;
  /** [numRows, 4]: seed low 32 bits, seed high 32 bits, sequence index, step (= output tokens so far). */
  rng: Uint32Array;
  /** Prompt then output token ids of rows that need them (penalties, bad words); else empty. */
  historyOffsets: Int32Array;
  historyTokens: Int32Array;
  /** How many of a row's history tokens are prompt tokens. */
  promptLens: Int32Array;
  biasOffsets: Int32Array;
  biasTokenIds: Int32Array;
  biasValues: Float32Array;
  /** An empty range means every token is allowed. */
  allowedOffsets: Int32Array;
  allowedTokenIds: Int32Array;
  /** Tokens masked this step (EOS and stop ids while below min_tokens). */
  bannedOffsets: Int32Array;
  bannedTokenIds: Int32Array;
  /** Row r owns words badWordOffsets[r]..[r+1]; word w is badWordTokens[badWordStarts[w]..[w+1]]. */
  badWordOffsets: Int32Array;
  badWordStarts: Int32Array;
  badWordTokens: Int32Array;
  /** Top-N log-probs wanted per row; -1 for none. */
  numLogprobs: Int32Array;
  /** Log-prob slots per row: max numLogprobs + 1 (slot 0 is the sampled token). */
  logprobWidth: number;
  /** Outputs. */
  sampledTokenIds: Int32Array;
  logprobTokenIds: Int32Array;
  logprobValues: Float32Array;
  logprobRanks: Int32Array;
}

/** Log-probs of known target tokens (prompt log-probs); slot layout as in NativeSampleBatch. */
export interface NativeLogprobBatch {
  numRows: number;
  vocabSize: number;
  logits: Float32Array;
  rowIndices: Int32Array;
  targetTokenIds: Int32Array;
  numLogprobs: number;
  logprobTokenIds: Int32Array;
  logprobValues: Float32Array;
  logprobRanks: Int32Array;
}

export interface NativeSamplerAddon {
  samplerSample(batch: NativeSampleBatch): void;
  samplerLogprobs(batch: NativeLogprobBatch): void;
}

let kernelFreeAddon: NativeSamplerAddon | null = null;

/** Builds (or finds in the build cache) an addon with no kernels, which still has the sampler. */
export function loadSamplerAddon(): NativeSamplerAddon {
  kernelFreeAddon ??= loadAddon<NativeSamplerAddon>(buildAddon({ name: "sampler", kernels: [] }).path);
  return kernelFreeAddon;
}
