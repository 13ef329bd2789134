// Drives a ModelRunner for one sequence without the engine: the whole prompt in one step
// (teacher forcing: logits at every position), then one token per step (greedy decode). Blocks are
// handed out in a scrambled order so the paged path is exercised, not a contiguous cache.
import type { ModelInput, ModelRunner } from "../../runtime/engine/model-runner.ts";

export class SingleSequence {
  private readonly blocks: number[] = [];
  private length = 0;
  constructor(private readonly runner: ModelRunner, private readonly blockSize: number, private readonly numBlocks: number) {}

  private slot(position: number): number {
    const b = Math.floor(position / this.blockSize);
    while (this.blocks.length <= b) this.blocks.push((this.blocks.length * 5 + 3) % this.numBlocks);
    return this.blocks[b] * this.blockSize + (position % this.blockSize);
  }

  /** Feeds tokens; returns logits rows for every fed token ([tokens.length, vocab]). */
  feed(tokens: readonly number[], allLogits: boolean): Float32Array {
    return this.runner.execute(this.next(tokens, allLogits));
  }

  /** The step that feeds these tokens (logits rows for all of them, or the last), with the sequence advanced past them. */
  next(tokens: readonly number[], allLogits: boolean): ModelInput {
    const T = tokens.length;
    const positions = Int32Array.from(tokens, (_, i) => this.length + i);
    const slotMapping = Int32Array.from(positions, (p) => this.slot(p));
    this.length += T;
    return {
      numSeqs: 1,
      numTokens: T,
      inputIds: Int32Array.from(tokens),
      positions,
      slotMapping,
      blockTables: Int32Array.from(this.blocks),
      maxBlocksPerSeq: this.blocks.length,
      contextLens: Int32Array.from([this.length]),
      queryStartLoc: Int32Array.from([0, T]),
      logitsIndices: allLogits ? Int32Array.from(tokens, (_, i) => i) : Int32Array.from([T - 1]),
      blockCopies: new Int32Array(0),
    };
  }
}

export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export function softmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  const out = Float64Array.from(row, (x) => Math.exp(x - max));
  const z = out.reduce((a, b) => a + b, 0);
  return out.map((x) => x / z);
}

export function greedy(runner: ModelRunner, blockSize: number, numBlocks: number, prompt: readonly number[], maxTokens: number, eos: readonly number[]): number[] {
  runner.initializeKvCache(numBlocks, blockSize);
  const seq = new SingleSequence(runner, blockSize, numBlocks);
  const vocab = runner.config.vocabSize;
  const out: number[] = [];
  let logits = seq.feed(prompt, false);
  for (let i = 0; i < maxTokens; i++) {
    const next = argmax(logits.subarray(0, vocab));
    out.push(next);
    if (eos.includes(next)) break;
    logits = seq.feed([next], false);
  }
  return out;
}

/**
 * Greedy decoding of several sequences in lockstep: all prompts in one step, then one token per
 * sequence per step (a fixed batch, no scheduler), for benchmarks that measure the model alone.
 */
export class BatchedGreedy {
  constructor(private readonly runner: ModelRunner, private readonly blockSize: number, private readonly blocksPerSeq: number) {}

  generate(prompts: readonly (readonly number[])[], maxTokens: number): number[][] {
    const vocab = this.runner.config.vocabSize;
    const lengths = prompts.map((p) => p.length);
    const outputs: number[][] = prompts.map(() => []);
    const step = (tokens: number[][]): Float32Array => this.runner.execute(this.input(tokens, lengths));
    let logits = step(prompts.map((p) => [...p]));
    for (let i = 0; i < maxTokens; i++) {
      const next = prompts.map((_, s) => argmax(logits.subarray(s * vocab, (s + 1) * vocab)));
      next.forEach((t, s) => {
        outputs[s].push(t);
        lengths[s]++;
      });
      if (i + 1 < maxTokens) logits = step(next.map((t) => [t]));
    }
    return outputs;
  }

  /**
   * The step that feeds tokens[s] to sequence s, whose length (those tokens included) is
   * lengths[s]: sequence s owns blocks s * blocksPerSeq onwards; logits of each one's last token.
   */
  input(tokens: readonly (readonly number[])[], lengths: readonly number[]): ModelInput {
    const positions: number[] = [];
    const slots: number[] = [];
    const starts = [0];
    tokens.forEach((ts, s) => {
      ts.forEach((_, i) => {
        const p = lengths[s] - ts.length + i;
        positions.push(p);
        slots.push((s * this.blocksPerSeq + Math.floor(p / this.blockSize)) * this.blockSize + (p % this.blockSize));
      });
      starts.push(starts[s] + ts.length);
    });
    return {
      numSeqs: tokens.length,
      numTokens: positions.length,
      inputIds: Int32Array.from(tokens.flat()),
      positions: Int32Array.from(positions),
      slotMapping: Int32Array.from(slots),
      blockTables: Int32Array.from({ length: tokens.length * this.blocksPerSeq }, (_, i) => i),
      maxBlocksPerSeq: this.blocksPerSeq,
      contextLens: Int32Array.from(lengths),
      queryStartLoc: Int32Array.from(starts),
      logitsIndices: Int32Array.from(starts.slice(1), (e) => e - 1),
      blockCopies: new Int32Array(0),
    };
  }
}
