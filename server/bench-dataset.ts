// The random dataset of `tsvllm bench serve`, seeded so two runs send the same prompts: token-id
// prompts drawn from the vocabulary (vLLM's "random"), or random words cut to exact token counts
// with the server's own /tokenize.

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An exponential wait with the given mean (a Poisson arrival process). */
export function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

export interface BenchPrompt {
  tokenIds: number[];
  outputLen: number;
}

export interface RandomDatasetOptions {
  numPrompts: number;
  inputLen: number;
  outputLen: number;
  /** Lengths are drawn uniformly from [len * (1 - ratio), len * (1 + ratio)]. */
  rangeRatio: number;
  seed: number;
}

function lengthAround(random: () => number, len: number, ratio: number): number {
  const low = Math.max(1, Math.floor(len * (1 - ratio)));
  const high = Math.max(low, Math.floor(len * (1 + ratio)));
  return low + Math.floor(random() * (high - low + 1));
}

const words = (
  "the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all " +
  "were we when your can said there use an each which she do how their if will up other about out many then them these so some " +
  "her would make like him into time has look two more write go see number no way could people my than first water been call " +
  "who oil its now find long down day did get come made may part over new sound take only little work know place year live me"
).split(" ");

export function randomTokenPrompts(options: RandomDatasetOptions, vocabSize: number): BenchPrompt[] {
  const random = seededRandom(options.seed);
  return Array.from({ length: options.numPrompts }, () => {
    const inputLen = lengthAround(random, options.inputLen, options.rangeRatio);
    const outputLen = lengthAround(random, options.outputLen, options.rangeRatio);
    return { tokenIds: Array.from({ length: inputLen }, () => Math.floor(random() * vocabSize)), outputLen };
  });
}

/** Random words, tokenized by `tokenize` (the server's /tokenize) and cut to the drawn length. */
export async function randomWordPrompts(
  options: RandomDatasetOptions,
  tokenize: (text: string) => Promise<number[]>,
): Promise<BenchPrompt[]> {
  const random = seededRandom(options.seed);
  const prompts: BenchPrompt[] = [];
  for (let i = 0; i < options.numPrompts; i++) {
    const inputLen = lengthAround(random, options.inputLen, options.rangeRatio);
    const outputLen = lengthAround(random, options.outputLen, options.rangeRatio);
    let tokenIds: number[] = [];
    for (let numWords = inputLen; tokenIds.length < inputLen; numWords *= 2) {
      const text = Array.from({ length: numWords }, () => words[Math.floor(random() * words.length)]).join(" ");
      tokenIds = await tokenize(text);
    }
    prompts.push({ tokenIds: tokenIds.slice(0, inputLen), outputLen });
  }
  return prompts;
}
