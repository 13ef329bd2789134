// Split-K paged attention for decode (FlashDecoding, Dao et al. 2023): query token t attends, at
// positions[t], to keys 0..positions[t] of sequence seqIdx[t], read through its block table. Any
// token is computed right (its keys are in the cache by then), but each runs alone, so this pays off
// for decode steps (one token per sequence), where pagedAttentionTiled has no tile to share.
// pagedDecodeSplit runs a program per (token, KV head, split): the split takes an even share of
// the sequence's KV blocks and all G query heads of the KV head (GQA), so each KV block is read
// once per group, and it writes its running max m, softmax denominator l and unnormalised output
// acc per query head. pagedDecodeCombine merges the splits: with M = max_i m_i,
//   out = vScale * sum_i exp(m_i - M) acc_i / sum_i exp(m_i - M) l_i
// (vScale as pagedAttention's: what an fp8 cache's values were divided by). With SINKS 1 the head's
// sink joins the merge as a split of its own with m = sinks[h], l = 1 and no output.
// A split with no blocks writes m = -inf, l = 0, acc = 0 and drops out of the merge; split 0 always
// has a block. Options as in pagedAttention (paged-attention.ts, the reference these are checked
// against): window > 0 keeps keys with position > pos - window; softcap > 0 applies
// softcap * tanh(score / softcap).
// Layout as pagedAttention's: q, out [T, HQ, HD]; kCache, vCache [NB, BS, HKV, HD]; blockTables
// [S, MB] i32; seqIdx, positions [T] i32; and partialMax, partialSum [T, HQ, NSPLIT] f32,
// partialOut [T, HQ, NSPLIT, HD] f32, where NSPLIT is the caller's choice at run time.
import { cdiv, exp, f32, forEach, idiv, kernel, max, min, pid, reduceMax, reduceSum, scratch, tanh, type Const, type Float, type Global, type i32 } from "../index.ts";
import { softmaxBlock } from "./online-softmax.ts";

export const pagedDecodeSplit = kernel({ grid: (q, kCache, vCache, blockTables, seqIdx, positions, partialMax) => [q.dim(0), kCache.dim(2), partialMax.dim(2)], threads: 128 })(
  function pagedDecodeSplit<A extends Float, C extends Float>(
    q: Global<A, ["T", "HQ", "HD"]>, kCache: Global<C, ["NB", "BS", "HKV", "HD"]>, vCache: Global<C, ["NB", "BS", "HKV", "HD"]>,
    blockTables: Global<"i32", ["S", "MB"]>, seqIdx: Global<"i32", ["T"]>, positions: Global<"i32", ["T"]>,
    partialMax: Global<"f32", ["T", "HQ", "NSPLIT"]>, partialSum: Global<"f32", ["T", "HQ", "NSPLIT"]>, partialOut: Global<"f32", ["T", "HQ", "NSPLIT", "HD"]>,
    scale: f32, softcap: f32, window: i32, BS: Const, HD: Const, G: Const,
  ) {
    const t = pid(0);
    const kvh = pid(1);
    const split = pid(2);
    const s = seqIdx.at(t);
    const len = positions.at(t) + 1;
    const first = window > 0 ? max(0, len - window) : 0;
    const firstBlock = idiv(first, BS);
    const perSplit = cdiv(cdiv(len, BS) - firstBlock, partialMax.dim(2));
    const blockStart = firstBlock + split * perSplit;
    const blockEnd = min(blockStart + perSplit, cdiv(len, BS));
    const qs = scratch(G * HD);
    const acc = scratch(G * HD);
    const p = scratch(G * BS);
    const m = scratch(G);
    const l = scratch(G);
    const alpha = scratch(G);
    forEach(G * HD, (gd) => {
      qs.put(gd, q.at(t, kvh * G + idiv(gd, HD), gd % HD));
      acc.put(gd, 0.0);
    });
    forEach(G, (g) => {
      m.put(g, -Infinity);
      l.put(g, 0.0);
    });
    for (let b = blockStart; b < blockEnd; b++) {
      const block = blockTables.at(s, b);
      forEach(G * BS, (go) => {
        const g = idiv(go, BS);
        const o = go % BS;
        const j = b * BS + o;
        let score = reduceSum(HD, (d) => qs.at(g * HD + d) * kCache.at(block, o, kvh, d)) * scale;
        if (softcap > 0.0) {
          score = softcap * tanh(score / softcap);
        }
        p.put(go, j >= first && j < len ? score : -Infinity);
      });
      // Every block in [blockStart, blockEnd) holds a live key, as softmaxBlock needs.
      softmaxBlock(p, m, l, alpha, G, BS);
      forEach(G * HD, (gd) => {
        const g = idiv(gd, HD);
        acc.put(gd, acc.at(gd) * alpha.at(g) + reduceSum(BS, (o) => p.at(g * BS + o) * vCache.at(block, o, kvh, gd % HD)));
      });
    }
    forEach(G * HD, (gd) => {
      partialOut.put(t, kvh * G + idiv(gd, HD), split, gd % HD, acc.at(gd));
    });
    forEach(G, (g) => {
      partialMax.put(t, kvh * G + g, split, m.at(g));
      partialSum.put(t, kvh * G + g, split, l.at(g));
    });
  },
);

export const pagedDecodeCombine = kernel({ grid: (partialMax) => [partialMax.dim(0), partialMax.dim(1)], threads: 64 })(
  function pagedDecodeCombine<A extends Float, W extends Float>(
    partialMax: Global<"f32", ["T", "HQ", "NSPLIT"]>, partialSum: Global<"f32", ["T", "HQ", "NSPLIT"]>, partialOut: Global<"f32", ["T", "HQ", "NSPLIT", "HD"]>,
    out: Global<A, ["T", "HQ", "HD"]>, sinks: Global<W, ["HQ"]>, vScale: f32, HD: Const, SINKS: Const,
  ) {
    const t = pid(0);
    const h = pid(1);
    const splits = partialMax.dim(2);
    const sink = SINKS == 1 ? f32(sinks.at(h)) : -Infinity;
    const mAll = max(sink, reduceMax(splits, (i) => partialMax.at(t, h, i)));
    const sum = reduceSum(splits, (i) => partialSum.at(t, h, i) * exp(partialMax.at(t, h, i) - mAll));
    const inv = vScale / (SINKS == 1 ? sum + exp(sink - mAll) : sum);
    forEach(HD, (d) => {
      out.put(t, h, d, reduceSum(splits, (i) => partialOut.at(t, h, i, d) * exp(partialMax.at(t, h, i) - mAll)) * inv);
    });
  },
);
