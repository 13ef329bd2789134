// One seeded generator for engine tests and the reference model, so every run sees the same
// prompts, weights and random choices.
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
