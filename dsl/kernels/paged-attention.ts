// Paged attention for any mix of prefill and decode tokens (the scheduler flattens both): query
// token t of sequence seqIdx[t] at absolute position positions[t] attends causally to keys
// 0..positions[t] of its sequence, read through its block table, with online softmax
// (Milakov & Gimelshein 2018; FlashAttention's rescaling). GQA: query head hq reads KV head hq / G.
// Options: window > 0 keeps keys with position > pos - window (Mistral / Gemma-2 sliding window);
// softcap > 0 applies softcap * tanh(score / softcap) (Gemma-2). vScale multiplies the output: an
// fp8 cache holds v / vScale (kv-write.ts); its kScale is folded into scale by the caller.
// SINKS 1 (GPT-OSS's attention sinks, OpenAI 2025): each query head hq has a learned logit
// sinks[hq] that joins its softmax as a key with a zero value, so the weights of the real keys sum
// to less than 1: out = sum_j exp(s_j - M) v_j / (sum_j exp(s_j - M) + exp(sinks[hq] - M)), M
// the largest of them all. The running max starts at the sink, so exp(sink - m) never overflows.
// SINKS 0 reads no sinks (the caller may pass none).
// Layout: q, out [T, HQ, HD]; kCache, vCache [NB, BS, HKV, HD]; blockTables [S, MB] i32;
// seqIdx, positions [T] i32. Reference: a naive softmax over the gathered keys (test/kernels).
import { exp, f32, forEach, idiv, kernel, max, pid, reduceSum, scratch, tanh, type Const, type Float, type Global, type i32 } from "../index.ts";

export const pagedAttention = kernel({ grid: (q) => [q.dim(0), q.dim(1)], work: (q, kCache, vCache, blockTables) => [q.dim(0), q.dim(1), q.dim(2), blockTables.dim(1), kCache.dim(1), 2], threads: 64 })(
  function pagedAttention<A extends Float, W extends Float, C extends Float>(
    q: Global<A, ["T", "HQ", "HD"]>, kCache: Global<C, ["NB", "BS", "HKV", "HD"]>, vCache: Global<C, ["NB", "BS", "HKV", "HD"]>,
    blockTables: Global<"i32", ["S", "MB"]>, seqIdx: Global<"i32", ["T"]>, positions: Global<"i32", ["T"]>, out: Global<A, ["T", "HQ", "HD"]>, sinks: Global<W, ["HQ"]>,
    scale: f32, softcap: f32, window: i32, vScale: f32, BS: Const, HD: Const, G: Const, SINKS: Const,
  ) {
    const t = pid(0);
    const hq = pid(1);
    const kvh = idiv(hq, G);
    const s = seqIdx.at(t);
    const pos = positions.at(t);
    const start = window > 0 ? max(0, pos - window + 1) : 0;
    const acc = scratch(HD);
    forEach(HD, (d) => {
      acc.put(d, 0.0);
    });
    const sink = SINKS == 1 ? f32(sinks.at(hq)) : -Infinity;
    let m = sink;
    let l = f32(0);
    for (let j = start; j < pos + 1; j++) {
      const block = blockTables.at(s, idiv(j, BS));
      const offset = j % BS;
      let score = reduceSum(HD, (d) => q.at(t, hq, d) * kCache.at(block, offset, kvh, d)) * scale;
      if (softcap > 0.0) {
        score = softcap * tanh(score / softcap);
      }
      const mNew = max(m, score);
      const alpha = exp(m - mNew);
      const p = exp(score - mNew);
      l = l * alpha + p;
      forEach(HD, (d) => {
        acc.put(d, acc.at(d) * alpha + p * vCache.at(block, offset, kvh, d));
      });
      m = mNew;
    }
    forEach(HD, (d) => {
      out.put(t, hq, d, (acc.at(d) / (SINKS == 1 ? l + exp(sink - m) : l)) * vScale);
    });
  },
);
