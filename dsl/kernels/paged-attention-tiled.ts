// Paged attention with the contract of pagedAttention (paged-attention.ts: any mix of prefill and
// decode tokens, causal, GQA, sliding window, soft-capping; same arguments and layout), computed
// block by block for the CPU: one program per (token, KV head) takes all G query heads of the
// group, so each KV block is read once per group, and for each block of BS keys
//   scores = q k^T           (dotTile, dot form: G x BS dot products over HD),
//   online softmax per head  (softmaxBlock, online-softmax.ts),
//   acc = acc * alpha + p v  (dotTile, broadcast form: G x HD accumulators over BS keys).
// Every block in the causal (and window) range holds a live key, so the running max stays finite.
import { dotTile, forEach, idiv, kernel, max, pid, scratch, tanh, type Const, type f32, type Float, type Global, type i32 } from "../index.ts";
import { softmaxBlock } from "./online-softmax.ts";

export const pagedAttentionTiled = kernel({ grid: (q, kCache) => [q.dim(0), kCache.dim(2)], work: (q, kCache, vCache, blockTables) => [q.dim(0), q.dim(1), q.dim(2), blockTables.dim(1), kCache.dim(1), 2], threads: 64 })(
  function pagedAttentionTiled<A extends Float, C extends Float>(
    q: Global<A, ["T", "HQ", "HD"]>, kCache: Global<C, ["NB", "BS", "HKV", "HD"]>, vCache: Global<C, ["NB", "BS", "HKV", "HD"]>,
    blockTables: Global<"i32", ["S", "MB"]>, seqIdx: Global<"i32", ["T"]>, positions: Global<"i32", ["T"]>, out: Global<A, ["T", "HQ", "HD"]>,
    scale: f32, softcap: f32, window: i32, BS: Const, HD: Const, G: Const,
  ) {
    const t = pid(0);
    const kvh = pid(1);
    const s = seqIdx.at(t);
    const pos = positions.at(t);
    const start = window > 0 ? max(0, pos - window + 1) : 0;
    const acc = scratch(G * HD);
    const p = scratch(G * BS);
    const m = scratch(G);
    const l = scratch(G);
    const alpha = scratch(G);
    forEach(G * HD, (e) => {
      acc.put(e, 0.0);
    });
    forEach(G, (g) => {
      m.put(g, -Infinity);
      l.put(g, 0.0);
    });
    for (let b = idiv(start, BS); b < idiv(pos, BS) + 1; b++) {
      const block = blockTables.at(s, b);
      forEach(G * BS, (e) => {
        p.put(e, 0.0);
      });
      dotTile(p, 0, G, BS, HD, (g, d) => q.at(t, kvh * G + g, d), (o, d) => kCache.at(block, o, kvh, d));
      forEach(G * BS, (e) => {
        const j = b * BS + (e % BS);
        let score = p.at(e) * scale;
        if (softcap > 0.0) {
          score = softcap * tanh(score / softcap);
        }
        p.put(e, j >= start && j <= pos ? score : -Infinity);
      });
      softmaxBlock(p, m, l, alpha, G, BS);
      forEach(G * HD, (e) => {
        acc.put(e, acc.at(e) * alpha.at(idiv(e, HD)));
      });
      dotTile(acc, 0, G, HD, BS, (g, o) => p.at(g * BS + o), (d, o) => vCache.at(block, o, kvh, d));
    }
    forEach(G * HD, (e) => {
      out.put(t, kvh * G + idiv(e, HD), e % HD, acc.at(e) / l.at(idiv(e, HD)));
    });
  },
);
