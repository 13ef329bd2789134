// FP8 (OCP e4m3fn) weight-only matmuls: fp8 checkpoints' weights stay e4m3 in memory and x stays in
// its own dtype (fp8-mma.ts is the W8A8 form, which quantizes x too). Layout: x [T, K]; w [N, K]
// fp8 (Hugging Face linear layout); out [T, N].
// matmulFp8Weights: out[t, n] = wScale[n] * sum_k x[t, k] * w[n, k], one scale per output (a
// per-tensor scale repeated), as vLLM runs such checkpoints on GPUs without fp8 tensor cores. Its
// shape is matmulDecode's (dsl/kernels/matmul-decode.ts): one program per output column, each
// thread 8 consecutive k, which the CUDA emitter reads as one 8-byte load. K is a multiple of 8.
// dequantizeFp8Weights writes the weights those stand for, w[n, k] * wScale[n], in a float dtype:
// steps of many rows read them so with the tensor-core matmul (dsl/kernels/matmul-mma.ts).
// matmulFp8BlockWeights and dequantizeFp8BlockWeights are the same for block-wise checkpoints
// (weight_block_size [BN, BK], as DeepSeek-V3 and Qwen3's fp8 releases): one scale per BN x BK
// block of w, wScale [cdiv(N, BN), cdiv(K, BK)]. BK is a multiple of 8, so each thread's 8 values
// share one scale, which multiplies their partial sum.
import { forEach, idiv, kernel, pid, reduceSum, type Const, type Float, type Global } from "../index.ts";

export const matmulFp8Weights = kernel({ grid: (x, w) => [w.dim(0)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulFp8Weights<A extends Float>(x: Global<A, ["T", "K"]>, w: Global<"fp8e4m3", ["N", "K"]>, wScale: Global<"f32", ["N"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const n = pid(0);
    const scale = wScale.at(n);
    for (let t = 0; t < x.dim(0); t++) {
      out.put(t, n, reduceSum(idiv(K, 8), (c) => reduceSum(8, (j) => x.at(t, c * 8 + j) * w.at(n, c * 8 + j))) * scale);
    }
  },
);

export const dequantizeFp8Weights = kernel({ grid: (w) => [w.dim(0)], threads: 128 })(
  function dequantizeFp8Weights<H extends Float>(w: Global<"fp8e4m3", ["N", "K"]>, wScale: Global<"f32", ["N"]>, out: Global<H, ["N", "K"]>, K: Const) {
    const n = pid(0);
    const scale = wScale.at(n);
    forEach(K, (k) => {
      out.put(n, k, w.at(n, k) * scale);
    });
  },
);

export const matmulFp8BlockWeights = kernel({ grid: (x, w) => [w.dim(0)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulFp8BlockWeights<A extends Float>(x: Global<A, ["T", "K"]>, w: Global<"fp8e4m3", ["N", "K"]>, wScale: Global<"f32", ["NB", "KB"]>, out: Global<A, ["T", "N"]>, K: Const, BN: Const, BK: Const) {
    const n = pid(0);
    const nb = idiv(n, BN);
    for (let t = 0; t < x.dim(0); t++) {
      out.put(t, n, reduceSum(idiv(K, 8), (c) => reduceSum(8, (j) => x.at(t, c * 8 + j) * w.at(n, c * 8 + j)) * wScale.at(nb, idiv(c * 8, BK))));
    }
  },
);

export const dequantizeFp8BlockWeights = kernel({ grid: (w) => [w.dim(0)], threads: 128 })(
  function dequantizeFp8BlockWeights<H extends Float>(w: Global<"fp8e4m3", ["N", "K"]>, wScale: Global<"f32", ["NB", "KB"]>, out: Global<H, ["N", "K"]>, K: Const, BN: Const, BK: Const) {
    const n = pid(0);
    const nb = idiv(n, BN);
    forEach(K, (k) => {
      out.put(n, k, w.at(n, k) * wScale.at(nb, idiv(k, BK)));
    });
  },
);
