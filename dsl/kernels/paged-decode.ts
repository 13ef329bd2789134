// Split-K paged attention for decode (FlashDecoding, Dao et al. 2023): one query token per sequence
// at position contextLens[s] - 1 attends to keys 0..contextLens[s] - 1 read through its block table.
// pagedDecodeSplit runs a program per (sequence, KV head, split): the split takes an even share of
// the sequence's KV blocks and all G query heads of the KV head (GQA), so each KV block is read
// once per group, and it writes its running max m, softmax denominator l and unnormalised output
// acc per query head. pagedDecodeCombine merges the splits: with M = max_i m_i,
//   out = sum_i exp(m_i - M) acc_i / sum_i exp(m_i - M) l_i.
// A split with no blocks writes m = -inf, l = 0, acc = 0 and drops out of the merge; split 0 always
// has a block. Options as in pagedAttention (paged-attention.ts, the reference these are checked
// against): window > 0 keeps keys with position > pos - window; softcap > 0 applies
// softcap * tanh(score / softcap).
// Layout: q, out [S, HQ, HD]; kCache, vCache [NB, BS, HKV, HD]; blockTables [S, MB] i32;
// contextLens [S] i32; partialMax, partialSum [S, HQ, NSPLIT] f32; partialOut [S, HQ, NSPLIT, HD] f32.
import { cdiv, exp, forEach, idiv, kernel, max, min, pid, reduceMax, reduceSum, scratch, tanh, type Const, type f32, type Float, type Global, type i32 } from "../index.ts";
import { softmaxBlock } from "./online-softmax.ts";

export const pagedDecodeSplit = kernel({ grid: (q, kCache, vCache, blockTables, contextLens, partialMax) => [q.dim(0), kCache.dim(2), partialMax.dim(2)], threads: 128 })(
  function pagedDecodeSplit<A extends Float, C extends Float>(
    q: Global<A, ["S", "HQ", "HD"]>, kCache: Global<C, ["NB", "BS", "HKV", "HD"]>, vCache: Global<C, ["NB", "BS", "HKV", "HD"]>,
    blockTables: Global<"i32", ["S", "MB"]>, contextLens: Global<"i32", ["S"]>,
    partialMax: Global<"f32", ["S", "HQ", "NSPLIT"]>, partialSum: Global<"f32", ["S", "HQ", "NSPLIT"]>, partialOut: Global<"f32", ["S", "HQ", "NSPLIT", "HD"]>,
    scale: f32, softcap: f32, window: i32, BS: Const, HD: Const, G: Const,
  ) {
    const s = pid(0);
    const kvh = pid(1);
    const split = pid(2);
    const len = contextLens.at(s);
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
      qs.put(gd, q.at(s, kvh * G + idiv(gd, HD), gd % HD));
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
      partialOut.put(s, kvh * G + idiv(gd, HD), split, gd % HD, acc.at(gd));
    });
    forEach(G, (g) => {
      partialMax.put(s, kvh * G + g, split, m.at(g));
      partialSum.put(s, kvh * G + g, split, l.at(g));
    });
  },
);

export const pagedDecodeCombine = kernel({ grid: (partialMax) => [partialMax.dim(0), partialMax.dim(1)], threads: 64 })(
  function pagedDecodeCombine<A extends Float>(
    partialMax: Global<"f32", ["S", "HQ", "NSPLIT"]>, partialSum: Global<"f32", ["S", "HQ", "NSPLIT"]>, partialOut: Global<"f32", ["S", "HQ", "NSPLIT", "HD"]>,
    out: Global<A, ["S", "HQ", "HD"]>, HD: Const,
  ) {
    const s = pid(0);
    const h = pid(1);
    const splits = partialMax.dim(2);
    const mAll = reduceMax(splits, (i) => partialMax.at(s, h, i));
    const inv = 1.0 / reduceSum(splits, (i) => partialSum.at(s, h, i) * exp(partialMax.at(s, h, i) - mAll));
    forEach(HD, (d) => {
      out.put(s, h, d, reduceSum(splits, (i) => partialOut.at(s, h, i, d) * exp(partialMax.at(s, h, i) - mAll)) * inv);
    });
  },
);
