// Dense matmul for GPUs, the contract of matmul / matmulBias (matmul.ts) with the weight in Hugging
// Face layout: out[t, n] = sum_k x[t, k] * w[n, k] (+ bias[n]); x [T, K], w [N, K], out [T, N].
// x and w share the half-precision dtype H (the forward casts f32 activations first, castRows);
// out is written in A.
// A program (thread block of 4 warps) owns a TM x 64 output tile; one TM x 64 dotTile over all of
// K, whose operands are plain f16/bf16 loads, is lowered to tensor cores (mma.sync m16n8k16 with
// f32 accumulation, codegen/lower/threads.ts): per 32-wide k chunk the block stages TM rows of x
// and 64 rows of w into shared memory and each warp multiplies its block of the tile in registers.
// TM = 64 for prefill; TM = 32 halves the staging and the mma work of steps of 16 to 32 rows
// (batched decode), which a 64-row tile would compute half of for nothing. Rows and columns past
// T and N re-read the last valid one and are never stored. With f32 operands the same source
// lowers to per-entry dot products (no tensor cores), and on CPU to the C++ tiles.
import { cdiv, dotTile, forEach, idiv, kernel, min, pid, scratch, type Const, type Float, type Global, type i32, type Scratch } from "../index.ts";

/** acc[i * 64 + j] = sum_k x[t0 + i, k] * w[n0 + j, k] for i < TM (clamped to the last row of each); e4m3 operands take the m16n8k32 mma (fp8-mma.ts). */
export function mmaTile<H extends Float | "fp8e4m3">(x: Global<H, ["T", "K"]>, w: Global<H, ["N", "K"]>, acc: Scratch, t0: i32, n0: i32, K: Const, TM: Const): void {
  forEach(TM * 64, (e) => {
    acc.put(e, 0.0);
  });
  dotTile(acc, 0, TM, 64, K, (i, k) => x.at(min(t0 + i, x.dim(0) - 1), k), (j, k) => w.at(min(n0 + j, w.dim(0) - 1), k));
}

export const matmulMma = kernel({ grid: (x, w, out, K, TM) => [cdiv(w.dim(0), 64), cdiv(x.dim(0), TM)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulMma<H extends Float, A extends Float>(x: Global<H, ["T", "K"]>, w: Global<H, ["N", "K"]>, out: Global<A, ["T", "N"]>, K: Const, TM: Const) {
    const t0 = pid(1) * TM;
    const n0 = pid(0) * 64;
    const acc = scratch(TM * 64);
    mmaTile(x, w, acc, t0, n0, K, TM);
    forEach(TM * 64, (e) => {
      if (t0 + idiv(e, 64) < x.dim(0) && n0 + (e % 64) < w.dim(0)) {
        out.put(t0 + idiv(e, 64), n0 + (e % 64), acc.at(e));
      }
    });
  },
);

export const matmulBiasMma = kernel({ grid: (x, w, bias, out, K, TM) => [cdiv(w.dim(0), 64), cdiv(x.dim(0), TM)], work: (x, w) => [x.dim(0), w.dim(0), w.dim(1)], threads: 128 })(
  function matmulBiasMma<H extends Float, A extends Float>(x: Global<H, ["T", "K"]>, w: Global<H, ["N", "K"]>, bias: Global<H, ["N"]>, out: Global<A, ["T", "N"]>, K: Const, TM: Const) {
    const t0 = pid(1) * TM;
    const n0 = pid(0) * 64;
    const acc = scratch(TM * 64);
    mmaTile(x, w, acc, t0, n0, K, TM);
    forEach(TM * 64, (e) => {
      if (t0 + idiv(e, 64) < x.dim(0) && n0 + (e % 64) < w.dim(0)) {
        out.put(t0 + idiv(e, 64), n0 + (e % 64), acc.at(e) + bias.at(n0 + (e % 64)));
      }
    });
  },
);
