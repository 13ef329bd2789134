// Sparse mixture-of-experts MLP (Mixtral, Jiang et al. 2024; Qwen3-MoE): each token runs KE of E
// gated experts, and its output is their outputs weighted by the router. Four launches:
//   moeRoute:  ids[t, r], weights[t, r] for r < KE: the router logits' KE largest, greatest first
//              (ties: lower expert first), weighted by softmax(logits) (RENORM 0) or by the softmax
//              over the KE chosen (RENORM 1: Mixtral, Qwen3-MoE's norm_topk_prob).
//   moeGateUp: h[t KE + r, i] = silu(g) * u with g = x[t] . gate[e, i], u = x[t] . up[e, i] and
//              e = ids[t, r]; with BIAS 1, g and u first gain gateBias[e I + i] and upBias[e I + i];
//              with ACT 1 (GPT-OSS's clamped SwiGLU, OpenAI 2025) h = g' sigmoid(alpha g') (u' + 1),
//              g' = min(g, limit), u' = clamp(u, -limit, limit);
//   moeDown:   y[t KE + r, n] = weights[t, r] * (h[t KE + r] . down[e, n] (+ downBias[e N + n] with BIAS 1));
//   moeSum:    out[t, n] = sum over r of y[t KE + r, n], in r order; moeSumShared adds a shared
//              expert's output s[t, n] scaled by sigmoid(g[t]) (Qwen2-MoE's shared_expert_gate).
// The expert matrices are stacked [E * rows, columns] and packed into the dense matmul's 16-column
// panels (dsl/kernels/matmul-blocked.ts), so expert e's output i is panel row e * rows + i. A
// program owns two panels, 32 outputs of one expert (each expert's rows must be a multiple of 32),
// and gathers, block by block of 96 tokens, the (token, rank) pairs routed to its expert: an
// expert's weights are read once per block of tokens, not once per token, so a prefill step reads
// each chosen expert about once and a decode step only the chosen ones. Experts no token chose cost
// a scan of the ids. Rows that share a tile are summed alike, whichever they are; a row alone in
// its expert (every expert of a one-sequence decode step) runs a one-row tile, whose k loop the C++
// splits into several accumulator chains, so its sums differ from a tile's in rounding only, as
// the dense matmul's decode path does (matmul-blocked.ts).
import { cdiv, dotTile, exp, f32, forEach, i32, idiv, kernel, max, min, pid, reduceMax, reduceMin, reduceSum, scratch, type Const, type Float, type Global, type Scratch } from "../index.ts";

// Tokens a program gathers at a time (96, written out where used: the compiler reads literals):
// its accumulators, two of 96 x 32 f32, fit in 48 KB of CUDA shared memory.

export const moeRoute = kernel({ grid: (logits) => [logits.dim(0)], threads: 128 })(
  function moeRoute<A extends Float>(logits: Global<A, ["T", "E"]>, ids: Global<"i32", ["T", "KE"]>, weights: Global<"f32", ["T", "KE"]>, KE: Const, RENORM: Const) {
    const t = pid(0);
    const E = logits.dim(1);
    const m = reduceMax(E, (i) => logits.at(t, i));
    const total = reduceSum(E, (i) => exp(logits.at(t, i) - m));
    let previous = Infinity;
    let previousIndex = i32(-1);
    let chosen = 0.0;
    for (let r = 0; r < KE; r++) {
      // The largest logit ordered after (previous, previousIndex), as sampling.ts's topK.
      const v = reduceMax(E, (i) => (logits.at(t, i) < previous || (logits.at(t, i) == previous && i > previousIndex) ? logits.at(t, i) : -Infinity));
      const at = i32(reduceMin(E, (i) => (logits.at(t, i) == v && (v < previous || i > previousIndex) ? f32(i) : Infinity)));
      ids.put(t, r, at);
      chosen = chosen + exp(v - m);
      previous = v;
      previousIndex = at;
    }
    const denominator = RENORM == 1 ? chosen : total;
    for (let r = 0; r < KE; r++) {
      weights.put(t, r, exp(logits.at(t, ids.at(t, r)) - m) / denominator);
    }
  },
);

/**
 * rows[0 .. count) = the pairs t KE + r of the tokens t0 .. t0 + 95 routed to expert e, in order
 * (as f32, exact below 2^24), and rows[96] = count.
 */
export function gatherRows(ids: Global<"i32", ["T", "KE"]>, rows: Scratch, e: i32, t0: i32): void {
  let count = i32(0);
  for (let t = t0; t < min(t0 + 96, ids.dim(0)); t++) {
    for (let r = 0; r < ids.dim(1); r++) {
      if (ids.at(t, r) == e) {
        rows.put(count, f32(t * ids.dim(1) + r));
        count = count + 1;
      }
    }
  }
  rows.put(96, f32(count));
}

/**
 * acc[i * 32 + j] = sum over k of v[idiv(rows[i], div), k] * wp[p + idiv(j, 16), k, j % 16] for
 * the count gathered rows: one row alone (a decode step's), else 6-row tiles (12 accumulators over
 * the two panels, as the dense prefill's), rows past count re-reading the last; k in chunks of 256
 * so the panels' chunk stays in cache while the tiles pass over it.
 */
function expertProducts<A extends Float, W extends Float>(v: Global<A, [string, string]>, rows: Scratch, div: i32, wp: Global<W, ["P", string, "16"]>, acc: Scratch, count: i32, p: i32, K: Const): void {
  forEach(96 * 32, (c) => {
    acc.put(c, 0.0);
  });
  for (let kc = 0; kc < K; kc += 256) {
    if (count == 1) {
      dotTile(acc, 0, 1, 32, min(256, K - kc), (i, k) => v.at(idiv(i32(rows.at(0)), div), kc + k), (j, k) => wp.at(p + idiv(j, 16), kc + k, j % 16));
    } else {
      for (let tt = 0; tt < count; tt += 6) {
        dotTile(acc, tt * 32, 6, 32, min(256, K - kc), (i, k) => v.at(idiv(i32(rows.at(min(tt + i, count - 1))), div), kc + k), (j, k) => wp.at(p + idiv(j, 16), kc + k, j % 16));
      }
    }
  }
}

/**
 * h's rows for the count gathered (token, rank) pairs from the gate and up products g, u
 * ([count, 32], outputs i0 .. i0 + 31 of expert e): act(g) * u, biased and activated as ACT and
 * BIAS say (the header's moeGateUp).
 */
export function storeHidden<A extends Float, W extends Float>(
  g: Scratch, u: Scratch, rows: Scratch, h: Global<A, ["TK", "I"]>, gateBias: Global<W, ["EI"]>, upBias: Global<W, ["EI"]>,
  alpha: f32, limit: f32, count: i32, e: i32, i0: i32, I: Const, ACT: Const, BIAS: Const,
): void {
  forEach(count * 32, (c) => {
    const a = BIAS == 1 ? g.at(c) + f32(gateBias.at(e * I + i0 + (c % 32))) : g.at(c);
    const b = BIAS == 1 ? u.at(c) + f32(upBias.at(e * I + i0 + (c % 32))) : u.at(c);
    if (ACT == 1) {
      const clamped = min(a, limit);
      h.put(i32(rows.at(idiv(c, 32))), i0 + (c % 32), (clamped / (1.0 + exp(-alpha * clamped))) * (max(-limit, min(b, limit)) + 1.0));
    } else {
      h.put(i32(rows.at(idiv(c, 32))), i0 + (c % 32), (a / (1.0 + exp(-a))) * b);
    }
  });
}

/** y's rows for the count gathered pairs from the down products acc (outputs n0 .. n0 + 31 of expert e): biased with BIAS, times the pair's routing weight. */
export function storeWeighted<W extends Float>(
  acc: Scratch, rows: Scratch, ids: Global<"i32", ["T", "KE"]>, weights: Global<"f32", ["T", "KE"]>, y: Global<"f32", ["TK", "N"]>, downBias: Global<W, ["EN"]>,
  count: i32, e: i32, n0: i32, N: Const, BIAS: Const,
): void {
  forEach(count * 32, (c) => {
    const row = i32(rows.at(idiv(c, 32)));
    const biased = BIAS == 1 ? acc.at(c) + f32(downBias.at(e * N + n0 + (c % 32))) : acc.at(c);
    y.put(row, n0 + (c % 32), weights.at(idiv(row, ids.dim(1)), row % ids.dim(1)) * biased);
  });
}

// Program q: outputs 32 idiv(q, E) .. + 31 of expert q % E, two panels of the stacked gate and of
// up. Consecutive programs take different experts: the pool hands out programs in contiguous
// chunks, and with each expert's programs together one thread could get every expert a decode
// step chose. The work estimates count every expert a token runs, so a decode step's launches
// reach the pool: estimated by their 32-output programs, they ran on the calling thread alone.
// These two and expertProducts' one-row tile, on a TinyLlama-sized Qwen3-MoE (f16, 8 experts of
// 1408, top 2; bench throughput, 2 threads): single-stream decode from 43% of the sustained read
// rate (18.7-20.1 tokens/s, 1.02x llama.cpp) to 73% (35.1-36.2 tokens/s, 1.94x llama.cpp).
// The biases (BIAS 0: never read, the caller may pass none) are the experts' stacked [E * I] (or [E * N]).
export const moeGateUp = kernel({ grid: (x, ids, gate) => [cdiv(gate.dim(0), 2)], work: (x, ids, gate, up, h, gateBias, upBias, alpha, limit, K, I) => [x.dim(0), ids.dim(1), 2 * I, K], threads: 128 })(
  function moeGateUp<A extends Float, W extends Float>(
    x: Global<A, ["T", "K"]>, ids: Global<"i32", ["T", "KE"]>, gate: Global<W, ["P", "K", "16"]>, up: Global<W, ["P", "K", "16"]>, h: Global<A, ["TK", "I"]>,
    gateBias: Global<W, ["EI"]>, upBias: Global<W, ["EI"]>, alpha: f32, limit: f32, K: Const, I: Const, ACT: Const, BIAS: Const,
  ) {
    const E = idiv(gate.dim(0), idiv(I, 16));
    const e = pid(0) % E;
    const i0 = 32 * idiv(pid(0), E);
    const p = e * idiv(I, 16) + idiv(i0, 16);
    const rows = scratch(97);
    const g = scratch(96 * 32);
    const u = scratch(96 * 32);
    for (let t0 = 0; t0 < x.dim(0); t0 += 96) {
      gatherRows(ids, rows, e, t0);
      const count = i32(rows.at(96));
      if (count > 0) {
        expertProducts(x, rows, ids.dim(1), gate, g, count, p, K);
        expertProducts(x, rows, ids.dim(1), up, u, count, p, K);
        storeHidden(g, u, rows, h, gateBias, upBias, alpha, limit, count, e, i0, I, ACT, BIAS);
      }
    }
  },
);

// Program q: outputs 32 idiv(q, E) .. + 31 of expert q % E, two panels of the stacked down projection.
export const moeDown = kernel({ grid: (h, ids, weights, down) => [cdiv(down.dim(0), 2)], work: (h, ids, weights, down, y, downBias, I, N) => [h.dim(0), N, I], threads: 128 })(
  function moeDown<A extends Float, W extends Float>(
    h: Global<A, ["TK", "I"]>, ids: Global<"i32", ["T", "KE"]>, weights: Global<"f32", ["T", "KE"]>, down: Global<W, ["P", "I", "16"]>, y: Global<"f32", ["TK", "N"]>,
    downBias: Global<W, ["EN"]>, I: Const, N: Const, BIAS: Const,
  ) {
    const E = idiv(down.dim(0), idiv(N, 16));
    const e = pid(0) % E;
    const n0 = 32 * idiv(pid(0), E);
    const p = e * idiv(N, 16) + idiv(n0, 16);
    const rows = scratch(97);
    const acc = scratch(96 * 32);
    for (let t0 = 0; t0 < ids.dim(0); t0 += 96) {
      gatherRows(ids, rows, e, t0);
      const count = i32(rows.at(96));
      if (count > 0) {
        expertProducts(h, rows, 1, down, acc, count, p, I);
        storeWeighted(acc, rows, ids, weights, y, downBias, count, e, n0, N, BIAS);
      }
    }
  },
);

export const moeSum = kernel({ grid: (y, out) => [out.dim(0), cdiv(out.dim(1), 512)], threads: 128 })(
  function moeSum<A extends Float>(y: Global<"f32", ["TK", "N"]>, out: Global<A, ["T", "N"]>, KE: Const) {
    const t = pid(0);
    const n0 = pid(1) * 512;
    forEach(min(512, out.dim(1) - n0), (c) => {
      let sum = 0.0;
      for (let r = 0; r < KE; r++) {
        sum = sum + y.at(t * KE + r, n0 + c);
      }
      out.put(t, n0 + c, sum);
    });
  },
);

export const moeSumShared = kernel({ grid: (y, shared, g, out) => [out.dim(0), cdiv(out.dim(1), 512)], threads: 128 })(
  function moeSumShared<A extends Float>(y: Global<"f32", ["TK", "N"]>, shared: Global<A, ["T", "N"]>, g: Global<A, ["T", "1"]>, out: Global<A, ["T", "N"]>, KE: Const) {
    const t = pid(0);
    const n0 = pid(1) * 512;
    const scale = 1.0 / (1.0 + exp(-g.at(t, 0)));
    forEach(min(512, out.dim(1) - n0), (c) => {
      let sum = 0.0;
      for (let r = 0; r < KE; r++) {
        sum = sum + y.at(t * KE + r, n0 + c);
      }
      out.put(t, n0 + c, sum + scale * shared.at(t, n0 + c));
    });
  },
);
