// FP8 W8A8 (vLLM's dynamic fp8 linear on GPUs with fp8 tensor cores): each step quantizes a
// linear's input per token, and the product runs on e4m3 operands with f32 accumulation.
// quantizeFp8Rows: xScale[t] = max(max_k |x[t, k]| / 448, 1 / (448 * 512)) (vLLM's floor, which
// keeps an all-zero row finite) and xq[t, k] = e4m3(x[t, k] / xScale[t]), saturating at +-448;
// quantizeFp8RowsStatic does the same with the checkpoint's calibrated input scale for every row
// (a static activation scheme), which the products take the same way, one per row.
// matmulFp8Mma: out[t, n] = sum_k xq[t, k] * w[n, k] * (xScale[t] * wScale[n]), with w [N, K]
// e4m3 and one weight scale per output (a per-tensor scale repeated): matmul-mma.ts's TM x 64
// tile, whose e4m3 operands lower to mma.sync m16n8k32 e4m3 (sm_89 and later; two f16 m16n8k16
// on sm_80, exactly, as every e4m3 value is an f16 one).
// matmulFp8Rows is the same product for steps of few rows, shaped as matmulFp8Weights (one
// program per output column, 8 consecutive k per thread): every step quantizes activations the
// same way whatever its row count, so a token's result does not depend on its batch but for
// the order of the sums.
// Block-wise checkpoints (weight_block_size [BN, BK], DeepSeek-V3 and Qwen3's fp8 releases) go
// W8A8 as vLLM runs them on Hopper: quantizeFp8Groups gives each token a scale per group of BK
// inputs, xScale [T, K / BK], and matmulFp8BlockMma sums each BK-wide slice of k on tensor cores
// into a partial tile that it adds to the accumulator times xScale[t, kb] * wScale[n / BN, kb]
// (wScale [N / BN, K / BK]); matmulFp8BlockRows is its GEMV form. K is a multiple of BK.
import { abs, cdiv, dotTile, forEach, idiv, kernel, max, min, pid, reduceMax, reduceSum, scratch, type Const, type Float, type Global } from "../index.ts";
import { mmaTile } from "./matmul-mma.ts";

export const quantizeFp8Rows = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function quantizeFp8Rows<A extends Float>(x: Global<A, ["T", "K"]>, xq: Global<"fp8e4m3", ["T", "K"]>, xScale: Global<"f32", ["T"]>, K: Const) {
    const t = pid(0);
    const scale = max(reduceMax(K, (k) => abs(x.at(t, k))) / 448.0, 1.0 / (448.0 * 512.0));
    xScale.put(t, scale);
    forEach(K, (k) => {
      xq.put(t, k, x.at(t, k) / scale);
    });
  },
);

export const quantizeFp8RowsStatic = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function quantizeFp8RowsStatic<A extends Float>(x: Global<A, ["T", "K"]>, inputScale: Global<"f32", ["1"]>, xq: Global<"fp8e4m3", ["T", "K"]>, xScale: Global<"f32", ["T"]>, K: Const) {
    const t = pid(0);
    const scale = inputScale.at(0);
    xScale.put(t, scale);
    forEach(K, (k) => {
      xq.put(t, k, x.at(t, k) / scale);
    });
  },
);

export const matmulFp8Mma = kernel({ grid: (xq, xScale, w, wScale, out, K, TM) => [cdiv(w.dim(0), 64), cdiv(xq.dim(0), TM)], work: (xq, xScale, w) => [xq.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulFp8Mma<A extends Float>(xq: Global<"fp8e4m3", ["T", "K"]>, xScale: Global<"f32", ["T"]>, w: Global<"fp8e4m3", ["N", "K"]>, wScale: Global<"f32", ["N"]>, out: Global<A, ["T", "N"]>, K: Const, TM: Const) {
    const t0 = pid(1) * TM;
    const n0 = pid(0) * 64;
    const acc = scratch(TM * 64);
    mmaTile(xq, w, acc, t0, n0, K, TM);
    forEach(TM * 64, (e) => {
      const t = t0 + idiv(e, 64);
      const n = n0 + (e % 64);
      if (t < xq.dim(0) && n < w.dim(0)) {
        out.put(t, n, acc.at(e) * (xScale.at(t) * wScale.at(n)));
      }
    });
  },
);

export const matmulFp8Rows = kernel({ grid: (xq, xScale, w) => [w.dim(0)], work: (xq, xScale, w) => [xq.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulFp8Rows<A extends Float>(xq: Global<"fp8e4m3", ["T", "K"]>, xScale: Global<"f32", ["T"]>, w: Global<"fp8e4m3", ["N", "K"]>, wScale: Global<"f32", ["N"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const n = pid(0);
    for (let t = 0; t < xq.dim(0); t++) {
      out.put(t, n, reduceSum(idiv(K, 8), (c) => reduceSum(8, (j) => xq.at(t, c * 8 + j) * w.at(n, c * 8 + j))) * (xScale.at(t) * wScale.at(n)));
    }
  },
);

export const quantizeFp8Groups = kernel({ grid: (x, xq, xScale, K, BK) => [x.dim(0), idiv(K, BK)], threads: 128 })(
  function quantizeFp8Groups<A extends Float>(x: Global<A, ["T", "K"]>, xq: Global<"fp8e4m3", ["T", "K"]>, xScale: Global<"f32", ["T", "KB"]>, K: Const, BK: Const) {
    const t = pid(0);
    const k0 = pid(1) * BK;
    const scale = max(reduceMax(BK, (k) => abs(x.at(t, k0 + k))) / 448.0, 1.0 / (448.0 * 512.0));
    xScale.put(t, pid(1), scale);
    forEach(BK, (k) => {
      xq.put(t, k0 + k, x.at(t, k0 + k) / scale);
    });
  },
);

export const matmulFp8BlockMma = kernel({ grid: (xq, xScale, w, wScale, out, K, BN, BK, TM) => [cdiv(w.dim(0), 64), cdiv(xq.dim(0), TM)], work: (xq, xScale, w) => [xq.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulFp8BlockMma<A extends Float>(xq: Global<"fp8e4m3", ["T", "K"]>, xScale: Global<"f32", ["T", "KB"]>, w: Global<"fp8e4m3", ["N", "K"]>, wScale: Global<"f32", ["NB", "KB"]>, out: Global<A, ["T", "N"]>, K: Const, BN: Const, BK: Const, TM: Const) {
    const t0 = pid(1) * TM;
    const n0 = pid(0) * 64;
    const acc = scratch(TM * 64);
    const part = scratch(TM * 64);
    forEach(TM * 64, (e) => {
      acc.put(e, 0.0);
    });
    for (let kb = 0; kb < idiv(K, BK); kb++) {
      forEach(TM * 64, (e) => {
        part.put(e, 0.0);
      });
      dotTile(part, 0, TM, 64, BK, (i, k) => xq.at(min(t0 + i, xq.dim(0) - 1), kb * BK + k), (j, k) => w.at(min(n0 + j, w.dim(0) - 1), kb * BK + k));
      forEach(TM * 64, (e) => {
        const scale = xScale.at(min(t0 + idiv(e, 64), xq.dim(0) - 1), kb) * wScale.at(idiv(min(n0 + (e % 64), w.dim(0) - 1), BN), kb);
        acc.put(e, acc.at(e) + part.at(e) * scale);
      });
    }
    forEach(TM * 64, (e) => {
      const t = t0 + idiv(e, 64);
      const n = n0 + (e % 64);
      if (t < xq.dim(0) && n < w.dim(0)) {
        out.put(t, n, acc.at(e));
      }
    });
  },
);

export const matmulFp8BlockRows = kernel({ grid: (xq, xScale, w) => [w.dim(0)], work: (xq, xScale, w) => [xq.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulFp8BlockRows<A extends Float>(xq: Global<"fp8e4m3", ["T", "K"]>, xScale: Global<"f32", ["T", "KB"]>, w: Global<"fp8e4m3", ["N", "K"]>, wScale: Global<"f32", ["NB", "KB"]>, out: Global<A, ["T", "N"]>, K: Const, BN: Const, BK: Const) {
    const n = pid(0);
    const nb = idiv(n, BN);
    for (let t = 0; t < xq.dim(0); t++) {
      out.put(t, n, reduceSum(idiv(K, 8), (c) => reduceSum(8, (j) => xq.at(t, c * 8 + j) * w.at(n, c * 8 + j)) * (xScale.at(t, idiv(c * 8, BK)) * wScale.at(nb, idiv(c * 8, BK)))));
    }
  },
);
