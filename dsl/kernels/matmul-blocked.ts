// Dense matmul blocked for the CPU's registers and caches, the same contract as matmul / matmulBias
// (matmul.ts): out[t, n] = sum_k x[t, k] * w[n, k] (+ bias[n]); x [T, K], w [N, K] (Hugging Face
// linear layout), out [T, N]. A program owns 16 output columns and a block of at most 192 tokens
// (T split evenly), accumulating in a 192 x 16 f32 scratch (matmulBlock):
//   T <= 4 (decode): per token, the 16 weight rows stream through 1 x 8 dot-product tiles (dotTile's
//     dot form: 8 vector accumulators along k, 8 weight streams in flight), at memory speed;
//   T <= 32 (batched decode): 3-token x 4-row dot-product tiles (12 accumulators; each weight vector
//     is widened once per 3 tokens), the 4 weight rows staying in L2 while the token triples pass
//     over them; at these sizes packing a panel per program costs more than the product itself
//     (bench/kernels.bench.ts, 4096 x 4096 f16, T = 8: 4.7 ms here against 10.9 ms with the panel);
//   T > 32 (prefill): K is cut into chunks of 256; each chunk of the 16 weight rows is packed,
//     transposed and widened to f32, into a 16 KB panel that stays in L1, and 6-token x 16-column
//     tiles run over it (dotTile's broadcast form: 12 accumulators + 2 panel vectors + 1 broadcast
//     = 15 of the 16 AVX2 registers, 2 FMAs per panel load).
// Rows past T and columns past N re-read the last valid one and are never stored. Column panels are
// the innermost grid axis: a token block of x (<= 192 rows) stays in cache while the weights stream
// past it once per block, rather than all of x (and out) cycling through L3 for every panel. The CUDA
// lowering is correct but not fast (every tile entry is one thread's serial dot product): GPUs
// want a tensor-core kernel instead.
import { cdiv, dotTile, forEach, idiv, kernel, min, pid, scratch, type Const, type Float, type Global, type i32, type Scratch } from "../index.ts";

/** acc[(t - t0) * 16 + (n - n0)] = sum_k x[t, k] * w[n, k] for rows tokens from t0 and 16 columns from n0. */
export function matmulBlock<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, w: Global<W, ["N", "K"]>, acc: Scratch, t0: i32, n0: i32, rows: i32, K: Const): void {
  const T = x.dim(0);
  const N = w.dim(0);
  forEach(cdiv(rows, 6) * 96, (e) => {
    acc.put(e, 0.0);
  });
  if (T <= 4) {
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < 16; c += 8) {
        dotTile(acc, t * 16 + c, 1, 8, K, (i, k) => x.at(t, k), (j, k) => w.at(min(n0 + c + j, N - 1), k));
      }
    }
  } else if (T <= 32) {
    const tile = scratch(12);
    for (let c = 0; c < 16; c += 4) {
      for (let tt = 0; tt < rows; tt += 3) {
        forEach(12, (e) => {
          tile.put(e, 0.0);
        });
        dotTile(tile, 0, 3, 4, K, (i, k) => x.at(min(t0 + tt + i, T - 1), k), (j, k) => w.at(min(n0 + c + j, N - 1), k));
        forEach(12, (e) => {
          acc.put((tt + idiv(e, 4)) * 16 + c + (e % 4), tile.at(e));
        });
      }
    }
  } else {
    const panel = scratch(256 * 16);
    for (let kc = 0; kc < K; kc += 256) {
      forEach(16, (j) => {
        const row = min(n0 + j, N - 1);
        for (let k = 0; k < min(256, K - kc); k++) {
          panel.put(k * 16 + j, w.at(row, kc + k));
        }
      });
      for (let tt = 0; tt < rows; tt += 6) {
        dotTile(acc, tt * 16, 6, 16, min(256, K - kc), (i, k) => x.at(min(t0 + tt + i, T - 1), kc + k), (j, k) => panel.at(k * 16 + j));
      }
    }
  }
}

export const matmulBlocked = kernel({ grid: (x, w) => [cdiv(w.dim(0), 16), cdiv(x.dim(0), 192)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulBlocked<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, w: Global<W, ["N", "K"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const block = cdiv(x.dim(0), cdiv(x.dim(0), 192));
    const t0 = pid(1) * block;
    const n0 = pid(0) * 16;
    const rows = min(block, x.dim(0) - t0);
    const acc = scratch(192 * 16);
    matmulBlock(x, w, acc, t0, n0, rows, K);
    forEach(rows * 16, (e) => {
      if (n0 + (e % 16) < w.dim(0)) {
        out.put(t0 + idiv(e, 16), n0 + (e % 16), acc.at(e));
      }
    });
  },
);

export const matmulBiasBlocked = kernel({ grid: (x, w) => [cdiv(w.dim(0), 16), cdiv(x.dim(0), 192)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulBiasBlocked<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, w: Global<W, ["N", "K"]>, bias: Global<W, ["N"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const block = cdiv(x.dim(0), cdiv(x.dim(0), 192));
    const t0 = pid(1) * block;
    const n0 = pid(0) * 16;
    const rows = min(block, x.dim(0) - t0);
    const acc = scratch(192 * 16);
    matmulBlock(x, w, acc, t0, n0, rows, K);
    forEach(rows * 16, (e) => {
      if (n0 + (e % 16) < w.dim(0)) {
        out.put(t0 + idiv(e, 16), n0 + (e % 16), acc.at(e) + bias.at(n0 + (e % 16)));
      }
    });
  },
);
