// Weight-only quantized matmuls on raw GGUF blocks: out[t, n] = sum_k x[t, k] * dequant(w)[n, k].
// The weight keeps the file's bytes, one row of K / 32 blocks per output n: w [N, RB] u8 with
// RB = K / 32 * blockBytes (ggml-common.h; runtime/loader/gguf-quants.ts dequantizes the same way):
//   Q8_0: 34-byte blocks, f16 scale d (little-endian) then int8 q[32]; value j = d * q[j].
//   Q4_0: 18-byte blocks, f16 scale d then 16 bytes qs; value j < 16 is d * ((qs[j] & 15) - 8) and
//         value j + 16 is d * ((qs[j] >> 4) - 8).
// One program per output element, t innermost in the grid so a weight row is reused from cache by
// every token. K is a multiple of 32. dequantizeQ8_0 / dequantizeQ4_0 write the values the blocks
// stand for, [N, K] in a float dtype: steps of many rows read them so with the tensor-core matmul
// (dsl/kernels/matmul-mma.ts).
import { f16FromBits, f32, forEach, i8, idiv, kernel, pid, reduceSum, type Const, type Float, type Global } from "../index.ts";

export const matmulQ8_0 = kernel({ grid: (x, w) => [x.dim(0), w.dim(0)], threads: 128 })(
  function matmulQ8_0<A extends Float>(x: Global<A, ["T", "K"]>, w: Global<"u8", ["N", "RB"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const t = pid(0);
    const n = pid(1);
    out.put(t, n, reduceSum(idiv(K, 32), (b) =>
      f16FromBits(w.at(n, 34 * b) | (w.at(n, 34 * b + 1) << 8)) * reduceSum(32, (j) => f32(i8(w.at(n, 34 * b + 2 + j))) * x.at(t, 32 * b + j))));
  },
);

export const matmulQ4_0 = kernel({ grid: (x, w) => [x.dim(0), w.dim(0)], threads: 128 })(
  function matmulQ4_0<A extends Float>(x: Global<A, ["T", "K"]>, w: Global<"u8", ["N", "RB"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const t = pid(0);
    const n = pid(1);
    out.put(t, n, reduceSum(idiv(K, 32), (b) =>
      f16FromBits(w.at(n, 18 * b) | (w.at(n, 18 * b + 1) << 8)) *
      reduceSum(16, (j) => f32((w.at(n, 18 * b + 2 + j) & 15) - 8) * x.at(t, 32 * b + j) + f32((w.at(n, 18 * b + 2 + j) >> 4) - 8) * x.at(t, 32 * b + 16 + j))));
  },
);

export const dequantizeQ8_0 = kernel({ grid: (w) => [w.dim(0)], threads: 128 })(
  function dequantizeQ8_0<H extends Float>(w: Global<"u8", ["N", "RB"]>, out: Global<H, ["N", "K"]>, K: Const) {
    const n = pid(0);
    forEach(K, (k) => {
      const b = idiv(k, 32);
      out.put(n, k, f16FromBits(w.at(n, 34 * b) | (w.at(n, 34 * b + 1) << 8)) * f32(i8(w.at(n, 34 * b + 2 + (k % 32)))));
    });
  },
);

export const dequantizeQ4_0 = kernel({ grid: (w) => [w.dim(0)], threads: 128 })(
  function dequantizeQ4_0<H extends Float>(w: Global<"u8", ["N", "RB"]>, out: Global<H, ["N", "K"]>, K: Const) {
    const n = pid(0);
    forEach(K, (k) => {
      const b = idiv(k, 32);
      const j = k % 32;
      const byte = w.at(n, 18 * b + 2 + (j % 16));
      out.put(n, k, f16FromBits(w.at(n, 18 * b) | (w.at(n, 18 * b + 1) << 8)) * f32((j < 16 ? byte & 15 : byte >> 4) - 8));
    });
  },
);
