// Paged attention with the contract of pagedAttention (paged-attention.ts: any mix of prefill and
// decode tokens, causal, GQA, sliding window, soft-capping, sinks; same arguments and layout), computed
// FlashAttention-style for the CPU. One program per (tile of TQ consecutive tokens, KV head): when the
// tile's tokens all belong to one sequence (a prefill chunk) and fill enough of it, its TQ x G query
// rows attend together, so each KV block is read once per tile rather than once per token;
// otherwise (decode tokens, short chunks) each token's G query rows attend on their own (a lone
// token of a group under 8 rows with the keys along the vectors instead: attendLoneToken). For each
// block of BS keys, its K (then V) rows for this head are first copied into a contiguous f32
// scratch: a cached f16/bf16 value is widened once, and the rows no longer sit HKV * HD apart (4 KB
// for 8 x 128 f32, which maps every row of a block to the same L1 sets). Then
//   sT = k qT               (dotTile, broadcast form over the tile's query rows, packed transposed),
//   online softmax per row  (rows with no live key yet keep m = -inf and contribute nothing),
//   acc = acc * alpha + p v (dotTile, broadcast form over HD).
// Query rows are padded to a multiple of 8 (the vector width the sT tile needs), and TQ is chosen so
// the scratch (rows x HD twice for q and the output, a key block, the scores) stays within 36 KB
// before padding (the rows rounded down to a multiple of 16 when 16 or more fit) and within a CUDA
// program's 48 KB of static shared memory after it.
import { cdiv, dotTile, exp, f32, forEach, i32, idiv, kernel, max, min, pid, reduceMin, scratch, tanh, type Const, type Float, type Global, type Scratch } from "../index.ts";
import { softmaxBlock } from "./online-softmax.ts";

/** KV head kvh's BS rows of cache block `block`, widened to f32 and contiguous: into[o * HD + d]. */
function packBlock<C extends Float>(cache: Global<C, ["NB", "BS", "HKV", "HD"]>, into: Scratch, block: i32, kvh: i32, BS: Const, HD: Const): void {
  forEach(BS, (o) => {
    forEach(HD, (d) => {
      into.put(o * HD + d, cache.at(block, o, kvh, d));
    });
  });
}

/**
 * Asks the CPU for KV head kvh's rows of a cache block before they are read: they sit HKV * HD
 * apart, a stride the hardware prefetcher does not follow, and the next block's id is in the
 * block table, where no prefetcher looks. One hint per 16 elements (a 64-byte line holds 16 f32
 * or 32 f16 values).
 */
function prefetchBlock<C extends Float>(cache: Global<C, ["NB", "BS", "HKV", "HD"]>, block: i32, kvh: i32, BS: Const, HD: Const): void {
  for (let o = 0; o < BS; o++) {
    for (let d = 0; d < HD; d += 16) {
      cache.prefetch(block, o, kvh, d);
    }
  }
}

/**
 * acc's rows of HD, each times its alpha. Needed only where a row's maximum rose (alpha < 1), which
 * late in a long context is rare (TinyLlama f16 1024-token prefill, alternating builds: attention
 * 624-673 -> 592-603 ms; a decode token at position 2000 took 0.24-0.28 ms a layer either way).
 */
function rescaleRows(acc: Scratch, alpha: Scratch, rows: Const, HD: Const): void {
  if (reduceMin(rows, (r) => alpha.at(r)) < 1.0) {
    forEach(rows, (r) => {
      const rescale = alpha.at(r);
      forEach(HD, (d) => {
        acc.put(r * HD + d, acc.at(r * HD + d) * rescale);
      });
    });
  }
}

/**
 * With sinks, each row's denominator gains its head's sink term exp(sink - m): the rows' running
 * maxima started at their sinks (pagedAttention's contract), so m >= sink.
 */
function addSinks<W extends Float>(sinks: Global<W, ["HQ"]>, m: Scratch, l: Scratch, kvh: i32, rows: i32, G: Const, SINKS: Const): void {
  if (SINKS == 1) {
    forEach(rows, (r) => {
      l.put(r, l.at(r) + exp(f32(sinks.at(kvh * G + (r % G))) - m.at(r)));
    });
  }
}

/**
 * The G query heads of `count` consecutive tokens of one sequence from token `ta`, as R rows. Per
 * row, [lo, hi] is the key range it may see (hi = -1 for padding rows); queries are pre-scaled.
 */
function attendTokens<A extends Float, C extends Float, W extends Float>(
  q: Global<A, ["T", "HQ", "HD"]>, kCache: Global<C, ["NB", "BS", "HKV", "HD"]>, vCache: Global<C, ["NB", "BS", "HKV", "HD"]>,
  blockTables: Global<"i32", ["S", "MB"]>, seqIdx: Global<"i32", ["T"]>, positions: Global<"i32", ["T"]>, out: Global<A, ["T", "HQ", "HD"]>, sinks: Global<W, ["HQ"]>,
  scale: f32, softcap: f32, window: i32, vScale: f32, ta: i32, count: i32, kvh: i32, R: Const, BS: Const, HD: Const, G: Const, SINKS: Const,
  qT: Scratch, sT: Scratch, kv: Scratch, acc: Scratch, m: Scratch, mUse: Scratch, l: Scratch, alpha: Scratch, lo: Scratch, hi: Scratch,
): void {
  const s = seqIdx.at(ta);
  const first = window > 0 ? max(0, positions.at(ta) - window + 1) : 0;
  const last = positions.at(ta + count - 1);
  forEach(R, (r) => {
    const token = ta + min(idiv(r, G), count - 1);
    const valid = idiv(r, G) < count;
    forEach(HD, (d) => {
      qT.put(d * R + r, valid ? q.at(token, kvh * G + (r % G), d) * scale : 0.0);
    });
  });
  forEach(R * HD, (e) => {
    acc.put(e, 0.0);
  });
  forEach(R, (r) => {
    const pos = positions.at(ta + min(idiv(r, G), count - 1));
    hi.put(r, idiv(r, G) < count ? f32(pos) : -1.0);
    lo.put(r, window > 0 ? f32(pos - window + 1) : 0.0);
    m.put(r, SINKS == 1 ? f32(sinks.at(kvh * G + (r % G))) : -Infinity);
    l.put(r, 0.0);
  });
  for (let b = idiv(first, BS); b < idiv(last, BS) + 1; b++) {
    const block = blockTables.at(s, b);
    if (b < idiv(last, BS)) {
      prefetchBlock(kCache, blockTables.at(s, b + 1), kvh, BS, HD);
      prefetchBlock(vCache, blockTables.at(s, b + 1), kvh, BS, HD);
    }
    forEach(cdiv(BS, 4) * 4 * R, (e) => {
      sT.put(e, 0.0);
    });
    packBlock(kCache, kv, block, kvh, BS, HD);
    for (let o0 = 0; o0 < BS; o0 += 4) {
      dotTile(sT, o0 * R, 4, R, HD, (i, d) => kv.at(min(o0 + i, BS - 1) * HD + d), (r, d) => qT.at(d * R + r));
    }
    if (softcap > 0.0) {
      forEach(BS * R, (e) => {
        sT.put(e, softcap * tanh(sT.at(e) / softcap));
      });
    }
    // Only a block some row may not see all of is masked: one past the first token's position (the
    // causal diagonal) or, with a sliding window, before the last token's window. Padding rows are
    // left unmasked there: their queries are zero and they are never stored.
    if (b * BS + BS - 1 > positions.at(ta) || (window > 0 && b * BS < last - window + 1)) {
      forEach(BS, (o) => {
        const j = f32(b * BS + o);
        forEach(R, (r) => {
          sT.put(o * R + r, j >= lo.at(r) && j <= hi.at(r) ? sT.at(o * R + r) : -Infinity);
        });
      });
    }
    // Row maxima and sums: each row's own loop over the keys, so the rows' loop vectorises with one
    // row per lane (their scores are contiguous in sT); a reduction over each row's keys, R apart,
    // was not vectorised (TinyLlama heads, 1024-token prefill: 1.4x).
    // A row with no live key yet keeps m = -inf; measuring it from 0 instead gives p = 0 and alpha = 0.
    forEach(R, (r) => {
      let mNew = m.at(r);
      for (let o = 0; o < BS; o++) {
        mNew = max(mNew, sT.at(o * R + r));
      }
      const reference = mNew > -Infinity ? mNew : 0.0;
      alpha.put(r, exp(m.at(r) - reference));
      m.put(r, mNew);
      mUse.put(r, reference);
    });
    forEach(BS, (o) => {
      forEach(R, (r) => {
        sT.put(o * R + r, exp(sT.at(o * R + r) - mUse.at(r)));
      });
    });
    forEach(R, (r) => {
      let sum = l.at(r) * alpha.at(r);
      for (let o = 0; o < BS; o++) {
        sum = sum + sT.at(o * R + r);
      }
      l.put(r, sum);
    });
    rescaleRows(acc, alpha, R, HD);
    packBlock(vCache, kv, block, kvh, BS, HD);
    for (let r0 = 0; r0 < R; r0 += 4) {
      dotTile(acc, r0 * HD, 4, HD, BS, (i, o) => sT.at(o * R + r0 + i), (d, o) => kv.at(o * HD + d));
    }
  }
  addSinks(sinks, m, l, kvh, count * G, G, SINKS);
  forEach(count * G, (r) => {
    forEach(HD, (d) => {
      out.put(ta + idiv(r, G), kvh * G + (r % G), d, (acc.at(r * HD + d) / l.at(r)) * vScale);
    });
  });
}

/**
 * A lone token t's G query rows (G < 8) attending on their own: scores are row-major (s[r * BS + o],
 * the keys along the vectors), q k^T is the dot form (a query row and a key row both contiguous in
 * HD) and p v the broadcast form over HD, so no row is padding. attendTokens' layout has the rows
 * along the vectors, padded to 8 (a Llama-3-8B head group of 4 computes 8 rows, a multi-head model's
 * 1 computes 8). A decode token at position 2000, f16 cache, 2 threads, same run: G 1 (32 heads of
 * 128) 3.06 -> 1.34 ms a layer, G 4 (8 KV heads of 128) 787 -> 582 us, G 2 (stories260K) 143 -> 106
 * us; at position 40, G 1 171 -> 86 us and G 4 54 -> 37 us. From G 8 on the padded rows are few and
 * attendTokens was as fast or faster (G 8: 212 vs 222 us, G 16: 145 vs 169).
 */
function attendLoneToken<A extends Float, C extends Float, W extends Float>(
  q: Global<A, ["T", "HQ", "HD"]>, kCache: Global<C, ["NB", "BS", "HKV", "HD"]>, vCache: Global<C, ["NB", "BS", "HKV", "HD"]>,
  blockTables: Global<"i32", ["S", "MB"]>, seqIdx: Global<"i32", ["T"]>, positions: Global<"i32", ["T"]>, out: Global<A, ["T", "HQ", "HD"]>, sinks: Global<W, ["HQ"]>,
  scale: f32, softcap: f32, window: i32, vScale: f32, t: i32, kvh: i32, BS: Const, HD: Const, G: Const, SINKS: Const,
  qs: Scratch, s: Scratch, kv: Scratch, acc: Scratch, m: Scratch, l: Scratch, alpha: Scratch,
): void {
  const seq = seqIdx.at(t);
  const pos = positions.at(t);
  const first = window > 0 ? max(0, pos - window + 1) : 0;
  forEach(G, (r) => {
    forEach(HD, (d) => {
      qs.put(r * HD + d, q.at(t, kvh * G + r, d) * scale);
      acc.put(r * HD + d, 0.0);
    });
    m.put(r, SINKS == 1 ? f32(sinks.at(kvh * G + r)) : -Infinity);
    l.put(r, 0.0);
  });
  for (let b = idiv(first, BS); b < idiv(pos, BS) + 1; b++) {
    const block = blockTables.at(seq, b);
    if (b < idiv(pos, BS)) {
      prefetchBlock(kCache, blockTables.at(seq, b + 1), kvh, BS, HD);
      prefetchBlock(vCache, blockTables.at(seq, b + 1), kvh, BS, HD);
    }
    forEach(G * BS, (e) => {
      s.put(e, 0.0);
    });
    packBlock(kCache, kv, block, kvh, BS, HD);
    dotTile(s, 0, G, BS, HD, (r, d) => qs.at(r * HD + d), (o, d) => kv.at(o * HD + d));
    if (softcap > 0.0) {
      forEach(G * BS, (e) => {
        s.put(e, softcap * tanh(s.at(e) / softcap));
      });
    }
    if (b * BS + BS - 1 > pos || b * BS < first) {
      forEach(G, (r) => {
        forEach(BS, (o) => {
          const j = b * BS + o;
          s.put(r * BS + o, j >= first && j <= pos ? s.at(r * BS + o) : -Infinity);
        });
      });
    }
    // Every block from first's to pos's holds a live key for all G rows, as softmaxBlock needs.
    softmaxBlock(s, m, l, alpha, G, BS);
    rescaleRows(acc, alpha, G, HD);
    packBlock(vCache, kv, block, kvh, BS, HD);
    dotTile(acc, 0, G, HD, BS, (r, o) => s.at(r * BS + o), (d, o) => kv.at(o * HD + d));
  }
  addSinks(sinks, m, l, kvh, G, G, SINKS);
  forEach(G, (r) => {
    forEach(HD, (d) => {
      out.put(t, kvh * G + r, d, (acc.at(r * HD + d) / l.at(r)) * vScale);
    });
  });
}

export const pagedAttentionTiled = kernel({
  grid: (q, kCache) => [cdiv(q.dim(0), max(1, idiv(max(idiv(idiv(9216 - kCache.dim(1) * q.dim(2), 2 * q.dim(2) + kCache.dim(1) + 8), 16) * 16, min(idiv(9216 - kCache.dim(1) * q.dim(2), 2 * q.dim(2) + kCache.dim(1) + 8), 15)), idiv(q.dim(1), kCache.dim(2))))), kCache.dim(2)],
  work: (q, kCache, vCache, blockTables) => [q.dim(0), q.dim(1), q.dim(2), blockTables.dim(1), kCache.dim(1), 2],
  threads: 64,
})(
  function pagedAttentionTiled<A extends Float, W extends Float, C extends Float>(
    q: Global<A, ["T", "HQ", "HD"]>, kCache: Global<C, ["NB", "BS", "HKV", "HD"]>, vCache: Global<C, ["NB", "BS", "HKV", "HD"]>,
    blockTables: Global<"i32", ["S", "MB"]>, seqIdx: Global<"i32", ["T"]>, positions: Global<"i32", ["T"]>, out: Global<A, ["T", "HQ", "HD"]>, sinks: Global<W, ["HQ"]>,
    scale: f32, softcap: f32, window: i32, vScale: f32, BS: Const, HD: Const, G: Const, SINKS: Const,
  ) {
    // Query rows the scratch budget allows, rounded down to a multiple of 16 when there are 16 or
    // more: the score tile's rows then fill AVX-512 vectors (Llama-3-8B heads: 24 rows took 8-lane
    // tiles; 16 rows, 1.3x faster). The grid above repeats this.
    const budget = idiv(9216 - BS * HD, 2 * HD + BS + 8);
    const TQ = max(1, idiv(max(idiv(budget, 16) * 16, min(budget, 15)), G));
    const t0 = pid(0) * TQ;
    const kvh = pid(1);
    const count = min(TQ, q.dim(0) - t0);
    const R = cdiv(TQ * G, 8) * 8;
    const rowsPerToken = cdiv(G, 8) * 8;
    const qT = scratch(R * HD);
    const sT = scratch(cdiv(BS, 4) * 4 * R);
    const kv = scratch(BS * HD);
    const acc = scratch(R * HD);
    const m = scratch(R);
    const l = scratch(R);
    const mUse = scratch(R);
    const alpha = scratch(R);
    const lo = scratch(R);
    const hi = scratch(R);
    // The tile attends as one only when that computes no more rows than token by token would: a lone
    // decode token (or a short chunk) in a tile of up to R rows would waste most of them.
    if (seqIdx.at(t0 + count - 1) == seqIdx.at(t0) && R <= count * rowsPerToken) {
      attendTokens(q, kCache, vCache, blockTables, seqIdx, positions, out, sinks, scale, softcap, window, vScale, t0, count, kvh, R, BS, HD, G, SINKS, qT, sT, kv, acc, m, mUse, l, alpha, lo, hi);
    } else {
      // A few tokens of one sequence in a row (drafts being verified, a short chunk) attend together
      // in runs within aligned windows of RUN positions, so each run reads its keys once; a lone
      // token (decode) keeps its own G rows.
      const RUN = min(8, TQ);
      const runRows = cdiv(RUN * G, 8) * 8;
      for (let u = 0; u < count; u++) {
        const t = t0 + u;
        const s = seqIdx.at(t);
        const w = idiv(positions.at(t), RUN);
        const previous = max(t - 1, t0);
        if (u == 0 || seqIdx.at(previous) != s || idiv(positions.at(previous), RUN) != w) {
          let n = i32(0);
          for (let v = 0; v < RUN; v++) {
            const next = min(t + v, t0 + count - 1);
            if (u + v < count && seqIdx.at(next) == s && idiv(positions.at(next), RUN) == w) {
              n = n + 1;
            }
          }
          if (n == 1 && G < 8) {
            attendLoneToken(q, kCache, vCache, blockTables, seqIdx, positions, out, sinks, scale, softcap, window, vScale, t, kvh, BS, HD, G, SINKS, qT, sT, kv, acc, m, l, alpha);
          } else if (n == 1) {
            attendTokens(q, kCache, vCache, blockTables, seqIdx, positions, out, sinks, scale, softcap, window, vScale, t, 1, kvh, rowsPerToken, BS, HD, G, SINKS, qT, sT, kv, acc, m, mUse, l, alpha, lo, hi);
          } else {
            attendTokens(q, kCache, vCache, blockTables, seqIdx, positions, out, sinks, scale, softcap, window, vScale, t, n, kvh, runRows, BS, HD, G, SINKS, qT, sT, kv, acc, m, mUse, l, alpha, lo, hi);
          }
        }
      }
    }
  },
);
