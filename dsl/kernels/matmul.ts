// Dense matmul against a linear weight in Hugging Face layout: out[t, n] = sum_k x[t, k] * w[n, k]
// (+ bias[n] in matmulBias). Layout: x [T, K], w [N, K], out [T, N]. One program per output
// element with the K reduction spread over threads; the grid puts t innermost so on CPU each weight
// row is streamed from memory once and reused for every token from cache.
import { kernel, pid, reduceSum, type Const, type Float, type Global } from "../index.ts";

export const matmul = kernel({ grid: (x, w) => [x.dim(0), w.dim(0)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmul<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, w: Global<W, ["N", "K"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const t = pid(0);
    const n = pid(1);
    out.put(t, n, reduceSum(K, (k) => x.at(t, k) * w.at(n, k)));
  },
);

export const matmulBias = kernel({ grid: (x, w) => [x.dim(0), w.dim(0)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulBias<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, w: Global<W, ["N", "K"]>, bias: Global<W, ["N"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const t = pid(0);
    const n = pid(1);
    out.put(t, n, reduceSum(K, (k) => x.at(t, k) * w.at(n, k)) + bias.at(n));
  },
);
