// The CPU matmul over weight-only quantized weights (GGUF blocks, repacked at load by
// quant-panel-layout.ts): matmul.ts's contract, out[t, n] = sum_k x[t, k] * w[n, k], where each
// weight is an integer q with an f32 scale and offset per group of k: w = scale * q - min. The
// integers sit in matmulBlocked's panels (16 rows side by side per k), so the same micro-kernel
// streams them (codegen/emit/cpp-vector-term.ts widens and dequantizes each vector of 16 in
// registers: a load, a conversion and a fused multiply-subtract per vector, then the FMAs; for one
// or two tokens the C++ sums each group's converted integers times x first and applies the
// group's scale and offset once, cpp-tile.ts):
//   matmulQ8Panels: wq [P, K, 16] int8; scales [P, K / G, 16]; mins [P, K / MG, 16] (MG = K and
//     one zero row of mins for formats without offsets, so one kernel serves both).
//   matmulQ4Panels: wq [P, K / 2, 16] bytes, k = 2h in the low nibble of byte h and 2h + 1 in
//     the high one, so the bytes stream once in k order; scales and mins [P, K / 32, 16].
// Decode reads about a byte (8-bit) or three quarters of one (4-bit, with the scales) per weight
// where matmulBlocked's f16 panels read two. The dispatch follows matmulBlocked's: for T <= 4 the
// program of every fourth panel streams four panels side by side, each broadcast of x feeding four
// vectors; above it the program of every other panel takes two. 5 to 8 tokens run one 8-row tile
// dequantizing in registers; more dequantize each k chunk (128 k) once into an L1 scratch and run
// 8-token (T <= 32) or 6-token tiles over it as over a float panel (a TinyLlama-sized matrix, 128
// tokens, 2 threads: 410 GFLOP/s against 283 dequantizing in every tile, where f16 panels ran 446).
import { cdiv, dotTile, f32, forEach, i32, idiv, kernel, min, pid, scratch, type Const, type Float, type Global, type Scratch } from "../index.ts";
import { storeProducts } from "./matmul-blocked.ts";

/** A linear's quantized panels: 4-bit (groups of 32, with offsets) or 8-bit in groups of 16 or 32 along k, with offsets or not. */
export interface QuantPanelFormat {
  bits: 4 | 8;
  groupSize: 16 | 32;
  hasMin: boolean;
}

/** acc[t * 64 + j] for R rows of tokens (T <= R, the last re-read past T) and the four int8 panels from p. */
function q8DecodeRows<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"i8", ["P", "K", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GM", "16"]>, acc: Scratch, p: i32, K: Const, G: Const, MG: Const, R: Const): void {
  const T = x.dim(0);
  const last = wq.dim(0) - 1;
  forEach(4 * 64, (e) => {
    acc.put(e, 0.0);
  });
  dotTile(acc, 0, R, 64, K, (i, k) => x.at(min(i, T - 1), k), (j, k) => f32(wq.at(min(p + idiv(j, 16), last), k, j % 16)) * scales.at(min(p + idiv(j, 16), last), idiv(k, G), j % 16) - mins.at(min(p + idiv(j, 16), last), idiv(k, MG), j % 16));
}

/** acc[t * 64 + j] (T <= 4) for the four panels from p over the int8 panels, in tiles of 1, 2 or 4 rows. */
function q8DecodeGroup<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"i8", ["P", "K", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GM", "16"]>, acc: Scratch, p: i32, K: Const, G: Const, MG: Const): void {
  const T = x.dim(0);
  if (T == 1) {
    q8DecodeRows(x, wq, scales, mins, acc, p, K, G, MG, 1);
  } else if (T == 2) {
    q8DecodeRows(x, wq, scales, mins, acc, p, K, G, MG, 2);
  } else {
    q8DecodeRows(x, wq, scales, mins, acc, p, K, G, MG, 4);
  }
}

/** acc[t * 32 + j] for 5 to 8 tokens (one 8-row tile, the last row re-read past T) over the two int8 panels from p, each weight vector dequantized in registers as it is used: one tile leaves nothing to share a dequantized chunk with. */
function q8Tile<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"i8", ["P", "K", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GM", "16"]>, acc: Scratch, p: i32, K: Const, G: Const, MG: Const): void {
  const T = x.dim(0);
  const last = wq.dim(0) - 1;
  forEach(8 * 32, (e) => {
    acc.put(e, 0.0);
  });
  dotTile(acc, 0, 8, 32, K, (i, k) => x.at(min(i, T - 1), k), (j, k) => f32(wq.at(min(p + idiv(j, 16), last), k, j % 16)) * scales.at(min(p + idiv(j, 16), last), idiv(k, G), j % 16) - mins.at(min(p + idiv(j, 16), last), idiv(k, MG), j % 16));
}

/** acc[(t - t0) * 32 + j] += the R-token tiles of rows tokens from t0 against a chunk of count k from kc dequantized in deq ([count, 32]), read as a float panel from L1. */
function chunkTiles<A extends Float>(x: Global<A, ["T", "K"]>, deq: Scratch, acc: Scratch, t0: i32, rows: i32, kc: i32, count: i32, R: Const): void {
  const T = x.dim(0);
  for (let tt = 0; tt < rows; tt += R) {
    dotTile(acc, tt * 32, R, 32, count, (i, k) => x.at(min(t0 + tt + i, T - 1), kc + k), (j, k) => deq.at(k * 32 + j));
  }
}

/**
 * acc[(t - t0) * 32 + j] for R-token tiles of rows tokens from t0 over the two int8 panels from p,
 * k in chunks of C: each chunk dequantized once into deq (f32, [C, 32]: one-term dotTiles, so the
 * vector terms do it) and every tile then reads it from L1 as a float panel.
 */
function q8Tiles<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"i8", ["P", "K", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GM", "16"]>, acc: Scratch, deq: Scratch, t0: i32, p: i32, rows: i32, K: Const, G: Const, MG: Const, R: Const, C: Const): void {
  const last = wq.dim(0) - 1;
  forEach(cdiv(rows, 12) * 12 * 32, (e) => {
    acc.put(e, 0.0);
  });
  for (let kc = 0; kc < K; kc += C) {
    const count = min(C, K - kc);
    forEach(C * 32, (e) => {
      deq.put(e, 0.0);
    });
    for (let k = 0; k < count; k++) {
      dotTile(deq, k * 32, 1, 32, 1, (i, u) => 1.0, (j, u) => f32(wq.at(min(p + idiv(j, 16), last), kc + k + u, j % 16)) * scales.at(min(p + idiv(j, 16), last), idiv(kc + k + u, G), j % 16) - mins.at(min(p + idiv(j, 16), last), idiv(kc + k + u, MG), j % 16));
    }
    chunkTiles(x, deq, acc, t0, rows, kc, count, R);
  }
}

/** acc[t * 64 + j] for R rows of tokens (T <= R, the last re-read past T) and the four 4-bit panels from p. */
function q4DecodeRows<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"u8", ["P", "H", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GS", "16"]>, acc: Scratch, p: i32, K: Const, R: Const): void {
  const T = x.dim(0);
  const last = wq.dim(0) - 1;
  forEach(4 * 64, (e) => {
    acc.put(e, 0.0);
  });
  dotTile(acc, 0, R, 64, K, (i, k) => x.at(min(i, T - 1), k), (j, k) => f32((wq.at(min(p + idiv(j, 16), last), idiv(k, 2), j % 16) >> (4 * (k % 2))) & 15) * scales.at(min(p + idiv(j, 16), last), idiv(k, 32), j % 16) - mins.at(min(p + idiv(j, 16), last), idiv(k, 32), j % 16));
}

/** acc[t * 64 + j] (T <= 4) for the four panels from p over the 4-bit panels, in tiles of 1, 2 or 4 rows. */
function q4DecodeGroup<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"u8", ["P", "H", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GS", "16"]>, acc: Scratch, p: i32, K: Const): void {
  const T = x.dim(0);
  if (T == 1) {
    q4DecodeRows(x, wq, scales, mins, acc, p, K, 1);
  } else if (T == 2) {
    q4DecodeRows(x, wq, scales, mins, acc, p, K, 2);
  } else {
    q4DecodeRows(x, wq, scales, mins, acc, p, K, 4);
  }
}

/** q8Tile over the two 4-bit panels from p. */
function q4Tile<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"u8", ["P", "H", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GS", "16"]>, acc: Scratch, p: i32, K: Const): void {
  const T = x.dim(0);
  const last = wq.dim(0) - 1;
  forEach(8 * 32, (e) => {
    acc.put(e, 0.0);
  });
  dotTile(acc, 0, 8, 32, K, (i, k) => x.at(min(i, T - 1), k), (j, k) => f32((wq.at(min(p + idiv(j, 16), last), idiv(k, 2), j % 16) >> (4 * (k % 2))) & 15) * scales.at(min(p + idiv(j, 16), last), idiv(k, 32), j % 16) - mins.at(min(p + idiv(j, 16), last), idiv(k, 32), j % 16));
}

/** q8Tiles over the two 4-bit panels from p. */
function q4Tiles<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"u8", ["P", "H", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GS", "16"]>, acc: Scratch, deq: Scratch, t0: i32, p: i32, rows: i32, K: Const, R: Const, C: Const): void {
  const last = wq.dim(0) - 1;
  forEach(cdiv(rows, 12) * 12 * 32, (e) => {
    acc.put(e, 0.0);
  });
  for (let kc = 0; kc < K; kc += C) {
    const count = min(C, K - kc);
    forEach(C * 32, (e) => {
      deq.put(e, 0.0);
    });
    for (let k = 0; k < count; k++) {
      dotTile(deq, k * 32, 1, 32, 1, (i, u) => 1.0, (j, u) => f32((wq.at(min(p + idiv(j, 16), last), idiv(kc + k + u, 2), j % 16) >> (4 * ((kc + k + u) % 2))) & 15) * scales.at(min(p + idiv(j, 16), last), idiv(kc + k + u, 32), j % 16) - mins.at(min(p + idiv(j, 16), last), idiv(kc + k + u, 32), j % 16));
    }
    chunkTiles(x, deq, acc, t0, rows, kc, count, R);
  }
}

export const matmulQ8Panels = kernel({ grid: (x, wq) => [wq.dim(0), cdiv(x.dim(0), 192)], work: (x, wq) => [x.dim(0), wq.dim(0) * 16, wq.dim(1)], threads: 128 })(
  function matmulQ8Panels<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"i8", ["P", "K", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GM", "16"]>, out: Global<A, ["T", "N"]>, K: Const, G: Const, MG: Const) {
    const block = cdiv(x.dim(0), cdiv(x.dim(0), 192));
    const t0 = pid(1) * block;
    const p = pid(0);
    const rows = min(block, x.dim(0) - t0);
    const columns = i32(x.dim(0) <= 4 ? 64 : 32);
    const acc = scratch(192 * 32);
    const deq = scratch(128 * 32);
    if (p % idiv(columns, 16) == 0) {
      if (x.dim(0) <= 4) {
        q8DecodeGroup(x, wq, scales, mins, acc, p, K, G, MG);
      } else if (x.dim(0) <= 8) {
        q8Tile(x, wq, scales, mins, acc, p, K, G, MG);
      } else if (x.dim(0) <= 32) {
        q8Tiles(x, wq, scales, mins, acc, deq, t0, p, rows, K, G, MG, 8, 128);
      } else {
        q8Tiles(x, wq, scales, mins, acc, deq, t0, p, rows, K, G, MG, 6, 128);
      }
      storeProducts(acc, out, t0, p, rows, columns);
    }
  },
);

export const matmulQ4Panels = kernel({ grid: (x, wq) => [wq.dim(0), cdiv(x.dim(0), 192)], work: (x, wq) => [x.dim(0), wq.dim(0) * 16, wq.dim(1) * 2], threads: 128 })(
  function matmulQ4Panels<A extends Float>(x: Global<A, ["T", "K"]>, wq: Global<"u8", ["P", "H", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GS", "16"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const block = cdiv(x.dim(0), cdiv(x.dim(0), 192));
    const t0 = pid(1) * block;
    const p = pid(0);
    const rows = min(block, x.dim(0) - t0);
    const columns = i32(x.dim(0) <= 4 ? 64 : 32);
    const acc = scratch(192 * 32);
    const deq = scratch(128 * 32);
    if (p % idiv(columns, 16) == 0) {
      if (x.dim(0) <= 4) {
        q4DecodeGroup(x, wq, scales, mins, acc, p, K);
      } else if (x.dim(0) <= 8) {
        q4Tile(x, wq, scales, mins, acc, p, K);
      } else if (x.dim(0) <= 32) {
        q4Tiles(x, wq, scales, mins, acc, deq, t0, p, rows, K, 8, 128);
      } else {
        q4Tiles(x, wq, scales, mins, acc, deq, t0, p, rows, K, 6, 128);
      }
      storeProducts(acc, out, t0, p, rows, columns);
    }
  },
);
