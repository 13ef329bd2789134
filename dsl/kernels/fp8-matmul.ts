// FP8 (OCP e4m3fn) W8A8 matmul with per-tensor scales, the layout of vLLM's static fp8 checkpoints:
// activations are quantized with a fixed scale (quantizeFp8: q = fp8(x / scale), saturating at
// +-448), weights are stored fp8 with their own scale, and out[t, n] = xScale * wScale *
// sum_k q_x[t, k] * q_w[n, k], accumulated in f32.
// Layout: x [T, K]; xq [T, K] fp8; w [N, K] fp8 (Hugging Face linear layout); out [T, N].
// matmulFp8Weights is the weight-only form that fp8 checkpoints run on in the forward pass: x stays
// in its own dtype and out[t, n] = wScale[n] * sum_k x[t, k] * w[n, k], one scale per output (a
// per-tensor scale repeated), as vLLM runs such checkpoints on GPUs without fp8 tensor cores. Its
// shape is matmulDecode's (dsl/kernels/matmul-decode.ts): one program per output column, each
// thread 8 consecutive k, which the CUDA emitter reads as one 8-byte load. K is a multiple of 8.
// dequantizeFp8Weights writes the weights those stand for, w[n, k] * wScale[n], in a float dtype:
// steps of many rows read them so with the tensor-core matmul (dsl/kernels/matmul-mma.ts).
// matmulFp8BlockWeights and dequantizeFp8BlockWeights are the same for block-wise checkpoints
// (weight_block_size [BN, BK], as DeepSeek-V3 and Qwen3's fp8 releases): one scale per BN x BK
// block of w, wScale [cdiv(N, BN), cdiv(K, BK)]. BK is a multiple of 8, so each thread's 8 values
// share one scale, which multiplies their partial sum.
import { forEach, idiv, kernel, pid, reduceSum, type Const, type f32, type Float, type Global } from "../index.ts";

export const quantizeFp8 = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function quantizeFp8<A extends Float>(x: Global<A, ["T", "K"]>, xq: Global<"fp8e4m3", ["T", "K"]>, scale: f32) {
    const t = pid(0);
    forEach(x.dim(1), (k) => {
      xq.put(t, k, x.at(t, k) / scale);
    });
  },
);

export const matmulFp8 = kernel({ grid: (xq, w) => [xq.dim(0), w.dim(0)], threads: 128 })(
  function matmulFp8<A extends Float>(xq: Global<"fp8e4m3", ["T", "K"]>, w: Global<"fp8e4m3", ["N", "K"]>, out: Global<A, ["T", "N"]>, xScale: f32, wScale: f32, K: Const) {
    const t = pid(0);
    const n = pid(1);
    out.put(t, n, reduceSum(K, (k) => xq.at(t, k) * w.at(n, k)) * (xScale * wScale));
  },
);

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
