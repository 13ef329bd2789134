// A tiny deterministic model in plain TS for engine tests. It sees the token history ONLY through
// the paged KV cache it is given: each step it runs the block copies, writes every token's key and
// value at its slotMapping slot, then lets each token whose logits are wanted attend over its
// sequence's positions by walking blockTables. A wrong slot, a wrong block table, a block reused
// while still live or a missed copy-on-write therefore changes the outputs; a read of a slot that
// was never written (the cache starts as NaN) throws.
import type { ModelInput, ModelRunner, ModelRunnerConfig } from "../../runtime/engine/model-runner.ts";
import { seededRandom } from "./engine-random.ts";

export interface ReferenceModelOptions {
  vocabSize: number;
  maxModelLen?: number;
  /** Width of keys, values and queries. */
  dim?: number;
  seed?: number;
}

export class ReferenceModelRunner implements ModelRunner {
  readonly config: ModelRunnerConfig;
  /** Every input execute() received, for tests that inspect batches. */
  readonly inputs: ModelInput[] = [];
  keepInputs = false;
  numExecuteCalls = 0;
  /** Tokens run through execute(), all calls together. */
  numForwardTokens = 0;
  private readonly dim: number;
  private readonly embedQ: Float32Array;
  private readonly embedK: Float32Array;
  private readonly embedV: Float32Array;
  private readonly unembed: Float32Array;
  private keyCache = new Float32Array(0);
  private valueCache = new Float32Array(0);
  private swapKeys = new Float32Array(0);
  private swapValues = new Float32Array(0);
  /** Blocks moved by swapBlocks(), either way. */
  numSwappedBlocks = 0;
  private blockSize = 0;

  constructor(options: ReferenceModelOptions) {
    this.dim = options.dim ?? 16;
    const V = options.vocabSize;
    this.config = { vocabSize: V, maxModelLen: options.maxModelLen ?? 512, numLayers: 1, numKvHeads: 1, headDim: this.dim, dtypeBytes: 4 };
    const rand = seededRandom(options.seed ?? 7);
    const gaussian = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rand() + rand() + rand() - 1.5) * 2 * scale);
    this.embedQ = gaussian(V * this.dim, 1);
    this.embedK = gaussian(V * this.dim, 1);
    this.embedV = gaussian(V * this.dim, 1);
    this.unembed = gaussian(V * this.dim, 1.5);
  }

  initializeKvCache(numBlocks: number, blockSize: number): void {
    this.blockSize = blockSize;
    this.keyCache = new Float32Array(numBlocks * blockSize * this.dim).fill(Number.NaN);
    this.valueCache = new Float32Array(numBlocks * blockSize * this.dim).fill(Number.NaN);
  }

  initializeSwapSpace(numBlocks: number): void {
    this.swapKeys = new Float32Array(numBlocks * this.blockSize * this.dim).fill(Number.NaN);
    this.swapValues = new Float32Array(numBlocks * this.blockSize * this.dim).fill(Number.NaN);
  }

  /** A swap block is poisoned once read back, so KV left behind in it can never pass for a sequence's. */
  swapBlocks(swapOut: Int32Array, swapIn: Int32Array): void {
    this.numSwappedBlocks += (swapOut.length + swapIn.length) / 2;
    const size = this.blockSize * this.dim;
    const move = (from: Float32Array, to: Float32Array, src: number, dst: number) => to.set(from.subarray(src * size, (src + 1) * size), dst * size);
    for (let c = 0; c < swapOut.length; c += 2) {
      move(this.keyCache, this.swapKeys, swapOut[c], swapOut[c + 1]);
      move(this.valueCache, this.swapValues, swapOut[c], swapOut[c + 1]);
    }
    for (let c = 0; c < swapIn.length; c += 2) {
      move(this.swapKeys, this.keyCache, swapIn[c], swapIn[c + 1]);
      move(this.swapValues, this.valueCache, swapIn[c], swapIn[c + 1]);
      this.swapKeys.fill(Number.NaN, swapIn[c] * size, (swapIn[c] + 1) * size);
      this.swapValues.fill(Number.NaN, swapIn[c] * size, (swapIn[c] + 1) * size);
    }
  }

  /** Rotary-free positional signal: a few sinusoids of the position. */
  private positional(position: number, i: number): number {
    return Math.sin(position / 10 ** (i / this.dim) + i);
  }

  execute(input: ModelInput): Float32Array {
    this.numExecuteCalls++;
    this.numForwardTokens += input.numTokens;
    if (this.keepInputs) this.inputs.push(input);
    const D = this.dim;
    const slotSize = this.blockSize * D;
    for (let c = 0; c < input.blockCopies.length; c += 2) {
      const [src, dst] = [input.blockCopies[c], input.blockCopies[c + 1]];
      this.keyCache.copyWithin(dst * slotSize, src * slotSize, (src + 1) * slotSize);
      this.valueCache.copyWithin(dst * slotSize, src * slotSize, (src + 1) * slotSize);
    }
    for (let t = 0; t < input.numTokens; t++) {
      const token = input.inputIds[t];
      const slot = input.slotMapping[t] * D;
      for (let i = 0; i < D; i++) {
        this.keyCache[slot + i] = this.embedK[token * D + i] + this.positional(input.positions[t], i);
        this.valueCache[slot + i] = this.embedV[token * D + i];
      }
    }
    const seqOfToken = new Int32Array(input.numTokens);
    for (let s = 0; s < input.numSeqs; s++) seqOfToken.fill(s, input.queryStartLoc[s], input.queryStartLoc[s + 1]);
    const V = this.config.vocabSize;
    const logits = new Float32Array(input.logitsIndices.length * V);
    input.logitsIndices.forEach((t, row) => {
      const hidden = this.attend(input, seqOfToken[t], input.inputIds[t], input.positions[t]);
      for (let v = 0; v < V; v++) {
        let sum = 0;
        for (let i = 0; i < D; i++) sum += this.unembed[v * D + i] * hidden[i];
        logits[row * V + v] = sum;
      }
    });
    return logits;
  }

  /** Softmax attention of the token's query over positions 0..position of its sequence, plus the token itself. */
  private attend(input: ModelInput, s: number, token: number, position: number): Float64Array {
    const D = this.dim;
    const bs = this.blockSize;
    const query = Float64Array.from({ length: D }, (_, i) => this.embedQ[token * D + i] + this.positional(position, i));
    const scores = new Float64Array(position + 1);
    const slots = new Int32Array(position + 1);
    let max = -Infinity;
    for (let p = 0; p <= position; p++) {
      const block = input.blockTables[s * input.maxBlocksPerSeq + Math.floor(p / bs)];
      if (block < 0) throw new Error(`position ${p} of sequence ${s} has no block`);
      slots[p] = (block * bs + (p % bs)) * D;
      let dot = 0;
      for (let i = 0; i < D; i++) dot += query[i] * this.keyCache[slots[p] + i];
      if (Number.isNaN(dot)) throw new Error(`sequence ${s} read KV slot ${block * bs + (p % bs)} (position ${p}) that was never written`);
      scores[p] = dot / Math.sqrt(D) * 2;
      max = Math.max(max, scores[p]);
    }
    const hidden = Float64Array.from({ length: D }, (_, i) => this.embedQ[token * D + i]);
    let total = 0;
    for (let p = 0; p <= position; p++) total += Math.exp(scores[p] - max);
    for (let p = 0; p <= position; p++) {
      const weight = Math.exp(scores[p] - max) / total;
      for (let i = 0; i < D; i++) hidden[i] += weight * this.valueCache[slots[p] + i] * 2;
    }
    return hidden;
  }
}
