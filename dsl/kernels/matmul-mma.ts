// Dense matmul for GPUs, the contract of matmul / matmulBias (matmul.ts) with the weight in Hugging
// Face layout: out[t, n] = sum_k x[t, k] * w[n, k] (+ bias[n]); x [T, K], w [N, K], out [T, N].
// x and w share the half-precision dtype H (the forward casts f32 activations first, castRows);
// out is written in A.
// A program (thread block of 4 warps) owns a 64 x 64 output tile; one 64 x 64 dotTile over all of
// K, whose operands are plain f16/bf16 loads, is lowered to tensor cores (mma.sync m16n8k16 with
// f32 accumulation, codegen/lower/threads.ts): per 32-wide k chunk the block stages 64 rows of x and
// 64 rows of w into shared memory and each warp multiplies a 64 x 16 block of the tile in registers.
// Rows and columns past T and N re-read the last valid one and are never stored. With f32 operands
// the same source lowers to per-entry dot products (no tensor cores), and on CPU to the C++ tiles.
import { cdiv, dotTile, forEach, idiv, kernel, min, pid, scratch, type Const, type Float, type Global, type i32, type Scratch } from "../index.ts";

/** acc[i * 64 + j] = sum_k x[t0 + i, k] * w[n0 + j, k] (clamped to the last row of each). */
function mmaTile<H extends Float>(x: Global<H, ["T", "K"]>, w: Global<H, ["N", "K"]>, acc: Scratch, t0: i32, n0: i32, K: Const): void {
  forEach(64 * 64, (e) => {
    acc.put(e, 0.0);
  });
  dotTile(acc, 0, 64, 64, K, (i, k) => x.at(min(t0 + i, x.dim(0) - 1), k), (j, k) => w.at(min(n0 + j, w.dim(0) - 1), k));
}

export const matmulMma = kernel({ grid: (x, w) => [cdiv(w.dim(0), 64), cdiv(x.dim(0), 64)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulMma<H extends Float, A extends Float>(x: Global<H, ["T", "K"]>, w: Global<H, ["N", "K"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const t0 = pid(1) * 64;
    const n0 = pid(0) * 64;
    const acc = scratch(64 * 64);
    mmaTile(x, w, acc, t0, n0, K);
    forEach(64 * 64, (e) => {
      if (t0 + idiv(e, 64) < x.dim(0) && n0 + (e % 64) < w.dim(0)) {
        out.put(t0 + idiv(e, 64), n0 + (e % 64), acc.at(e));
      }
    });
  },
);

export const matmulBiasMma = kernel({ grid: (x, w) => [cdiv(w.dim(0), 64), cdiv(x.dim(0), 64)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulBiasMma<H extends Float, A extends Float>(x: Global<H, ["T", "K"]>, w: Global<H, ["N", "K"]>, bias: Global<H, ["N"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const t0 = pid(1) * 64;
    const n0 = pid(0) * 64;
    const acc = scratch(64 * 64);
    mmaTile(x, w, acc, t0, n0, K);
    forEach(64 * 64, (e) => {
      if (t0 + idiv(e, 64) < x.dim(0) && n0 + (e % 64) < w.dim(0)) {
        out.put(t0 + idiv(e, 64), n0 + (e % 64), acc.at(e) + bias.at(n0 + (e % 64)));
      }
    });
  },
);
