// A naive, obviously-correct JS version of every sampler transform, for checking the native
// sampler row by row. Float32Array storage reproduces the native code's f32 rounding; sums and
// exponentials are in f64 as there.
export interface ReferenceRow {
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  presencePenalty: number;
  frequencyPenalty: number;
  repetitionPenalty: number;
  logitBias: Record<number, number>;
  allowedTokenIds: number[];
  bannedTokenIds: number[];
  badWords: number[][];
  promptTokens: number[];
  outputTokens: number[];
  seed: bigint;
  index: number;
  step: number;
}

const mask64 = (1n << 64n) - 1n;

function splitmix64(z: bigint): bigint {
  z = (z + 0x9e3779b97f4a7c15n) & mask64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask64;
  return z ^ (z >> 31n);
}

export function referenceUniform(seed: bigint, index: number, step: number): number {
  const h = splitmix64(splitmix64(splitmix64(seed & mask64) ^ BigInt(index)) ^ BigInt(step));
  return Number(h >> 11n) / 2 ** 53;
}

/** Logits after every transform up to (not including) the final draw; -Infinity = removed. */
export function referenceProcessedLogits(raw: Float32Array, row: ReferenceRow): Float32Array {
  const f = Math.fround;
  const x = Float32Array.from(raw);
  const V = x.length;
  if (row.allowedTokenIds.length > 0) {
    const allowed = new Set(row.allowedTokenIds);
    for (let i = 0; i < V; i++) if (!allowed.has(i)) x[i] = -Infinity;
  }
  for (const word of row.badWords) {
    const prefix = word.slice(0, -1);
    const tail = row.outputTokens.slice(row.outputTokens.length - prefix.length);
    if (prefix.length <= row.outputTokens.length && prefix.every((t, j) => tail[j] === t)) x[word[word.length - 1]] = -Infinity;
  }
  for (const id of row.bannedTokenIds) x[id] = -Infinity;
  for (const [id, bias] of Object.entries(row.logitBias)) x[Number(id)] = x[Number(id)] + f(bias);
  const rep = f(row.repetitionPenalty);
  if (rep !== 1) {
    for (const id of new Set([...row.promptTokens, ...row.outputTokens])) x[id] = x[id] > 0 ? x[id] / rep : x[id] * rep;
  }
  const counts = new Map<number, number>();
  for (const id of row.outputTokens) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, count] of counts) x[id] = x[id] - f(f(f(row.frequencyPenalty) * count) + f(row.presencePenalty));
  if (f(row.temperature) < f(1e-5)) return x;
  for (let i = 0; i < V; i++) x[i] = x[i] / f(row.temperature);
  const max = () => x.reduce((m, v) => Math.max(m, v), -Infinity);
  if (row.minP > 0) {
    const m = max();
    for (let i = 0; i < V; i++) if (Math.exp(x[i] - m) < f(row.minP)) x[i] = -Infinity;
  }
  if (row.topK > 0 && row.topK < V) {
    const threshold = [...x].sort((a, b) => b - a)[row.topK - 1];
    for (let i = 0; i < V; i++) if (x[i] < threshold) x[i] = -Infinity;
  }
  if (f(row.topP) < 1) {
    const m = max();
    const order = [...x.keys()].filter((i) => x[i] !== -Infinity).sort((a, b) => x[b] - x[a] || a - b);
    const total = order.reduce((s, i) => s + Math.exp(x[i] - m), 0);
    let mass = 0;
    let keep = order.length;
    for (let j = 0; j < order.length; j++) {
      mass += Math.exp(x[order[j]] - m) / total;
      if (mass >= f(row.topP)) {
        keep = j + 1;
        break;
      }
    }
    for (const i of order.slice(keep)) x[i] = -Infinity;
  }
  return x;
}

export function referenceSample(raw: Float32Array, row: ReferenceRow): number {
  const x = referenceProcessedLogits(raw, row);
  if (Math.fround(row.temperature) < Math.fround(1e-5)) {
    let best = 0;
    for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
    return best;
  }
  const m = x.reduce((a, v) => Math.max(a, v), -Infinity);
  const total = x.reduce((s, v) => s + Math.exp(v - m), 0);
  const target = referenceUniform(row.seed, row.index, row.step) * total;
  let acc = 0;
  let last = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] === -Infinity) continue;
    acc += Math.exp(x[i] - m);
    last = i;
    if (acc > target) return i;
  }
  return last;
}

/** log-softmax of the raw row: the target's log-prob and rank (tokens scoring >= it), and the top-N. */
export function referenceLogprobs(raw: Float32Array, target: number, topN: number): { logprob: number; rank: number; top: { id: number; logprob: number }[] } {
  const m = raw.reduce((a, v) => Math.max(a, v), -Infinity);
  const lse = m + Math.log(raw.reduce((s, v) => s + Math.exp(v - m), 0));
  const order = [...raw.keys()].sort((a, b) => raw[b] - raw[a] || a - b);
  return {
    logprob: raw[target] - lse,
    rank: raw.filter((v) => v >= raw[target]).length,
    top: order.slice(0, topN).map((id) => ({ id, logprob: raw[id] - lse })),
  };
}
