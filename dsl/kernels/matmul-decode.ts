// Dense matmul (matmul.ts's contract: out[t, n] = sum_k x[t, k] * w[n, k] (+ bias[n]); x [T, K],
// w [N, K], out [T, N]) for steps of few rows on GPUs, where reading the weights bounds the time.
// matmul runs a program per (token, column), so a decode step of 32 sequences streams every weight
// row 32 times through L2. Here one program per column runs every token over its row in turn: the
// row comes from memory once per step and from L1 for the tokens after the first. Within a token
// each thread takes 8 consecutive k at a time (thread i the i-th group of 8, so a warp reads 256
// contiguous bytes of a bf16 row), which the CUDA emitter turns into 16-byte vector loads
// (codegen/emit/cuda-vector-loads.ts), then the block all-reduces. K must be a multiple of 8.
import { idiv, kernel, pid, reduceSum, type Const, type Float, type Global } from "../index.ts";

export const matmulDecode = kernel({ grid: (x, w) => [w.dim(0)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulDecode<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, w: Global<W, ["N", "K"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const n = pid(0);
    for (let t = 0; t < x.dim(0); t++) {
      out.put(t, n, reduceSum(idiv(K, 8), (c) => reduceSum(8, (j) => x.at(t, c * 8 + j) * w.at(n, c * 8 + j))));
    }
  },
);

export const matmulBiasDecode = kernel({ grid: (x, w) => [w.dim(0)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulBiasDecode<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, w: Global<W, ["N", "K"]>, bias: Global<W, ["N"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const n = pid(0);
    for (let t = 0; t < x.dim(0); t++) {
      out.put(t, n, reduceSum(idiv(K, 8), (c) => reduceSum(8, (j) => x.at(t, c * 8 + j) * w.at(n, c * 8 + j))) + bias.at(n));
    }
  },
);
