// Dense matmul blocked for the CPU's registers and caches, the contract of matmul / matmulBias
// (matmul.ts), out[t, n] = sum_k x[t, k] * w[n, k] (+ bias[n]), with the weight stored as panels:
// wp [cdiv(N, 16), K, 16] holds wp[p, k, j] = w[16 p + j, k] (zero past N), packed once at load
// (packWeightPanels). x [T, K], out [T, N]. The program of every other panel owns it and the next
// (32 output columns; the other programs do nothing) and a block of at most 192 tokens (T split
// evenly), accumulating in a 192 x 32 f32 scratch; for T <= 4 the program of every fourth panel
// owns four. Every path is dotTile's broadcast form: per k, the panels' vectors (widened from
// f16/bf16 on load; each panel its own stream) against one broadcast x value per token row, with no
// horizontal sums. The broadcasts, not the FMAs, bound one panel's loops on a Zen 5, so each one
// feeds several panels' vectors.
//   T <= 4 (decode): the program of every fourth panel streams four panels side by side
//     (decodePanelGroup) and the other programs do nothing: each broadcast of a token's x value
//     feeds four panels' vectors, in tiles of 1, 2 or 4 token rows (T = 3 re-reads its last row).
//     One panel a program, a broadcast per panel vector bound the step on a Zen 5 (TinyLlama f16,
//     2 threads: 1-token steps 46-48 ms -> 33-35 ms; 2, 3 and 4 tokens, one row at a time over the
//     panel, took 55-58, 66-70 and 78-80 ms, slower than 5 tokens in the batched path's tiles; now
//     37, 38-39 and 40 ms. 8-token tiles over four panels, in 128-k chunks, did not beat the
//     batched path for 5-8 tokens: 62-78 ms against 59-63).
//     No software prefetch: the hardware prefetcher follows the panel streams, and a prefetch
//     256 k ahead in every step cost time on a Zen 5 (one-panel decode step, alternating builds:
//     36.6-36.9 ms with it, 34.7-35.2 without);
//   5 <= T <= 32 (batched decode): 8-token tiles over the two panels (8 x 2 accumulators of 16 lanes
//     in AVX-512, passes of 8 x 1 in AVX2; with one panel, TinyLlama f16 steps of 8 and 16 tokens
//     took 65-71 and 122-136 ms against 61-69 and 109-118, and four panels were no better;
//     4-token tiles took 66-69 and 117-131 ms against 58-64 and 103-115 ms, alternating builds),
//     K cut into chunks of 128 so the chunks of the panels (8 KB each in f32) and the ones being
//     prefetched stay in L1 together while every tile passes over them: the weights are read from
//     memory once per step, one sequential stream per panel (chunks of 256 let an f32 chunk and its
//     prefetched successor fill the 32 KB L1: TinyLlama f32 batch-8 steps 193-257 ms against
//     181-210 ms, alternating builds, with one panel; with two f32 panels a Zen 3's 32 KB L1 is
//     full again, which was not measured: this VM's Zen 5 has 48 KB);
//   T > 32 (prefill): 6-token tiles (12 accumulators + 2 panel vectors + 1 broadcast = 15 of the
//     16 AVX2 registers, 2 FMAs per panel load; in AVX-512, 6 x 2 over the two panels) over chunks
//     of 256 (a 192-token TinyLlama f16 prefill: 1.44-1.54 s with one panel, 1.23-1.30 with two).
// The first tile of each chunk prefetches the panel one chunk ahead, so the next chunk streams in
// while the tiles compute on this one rather than the first tile of each chunk waiting on memory
// (same run, T = 8..32: 1.3-1.4x; a scratch C++ probe of the same loops). The other tiles read the
// chunk from L1 and would only repeat those prefetches (TinyLlama f16 batch-32 decode step,
// alternating builds: 550-607 ms with a prefetch in every tile, 473-571 ms without).
// Packing at load replaces the per-program transposition of the weight rows into a panel that the
// row layout needed (about 15% of prefill), and one stream per panel replaces 16 row streams.
// Rows past T re-read the last valid one, and panels past the last re-read it; neither is stored. Column panels are the innermost grid
// axis: a token block of x (<= 192 rows) stays in cache while the weights stream past it once per
// block. The CUDA lowering is correct but not fast (every tile entry is one thread's serial dot
// product): GPUs want a tensor-core kernel instead.
import { cdiv, dotTile, forEach, i32, idiv, kernel, min, pid, scratch, type Const, type Float, type Global, type Scratch } from "../index.ts";

/** Columns per panel: two AVX2 vectors of f32. */
export const panelWidth = 16;

/** Elements of rows x columns as panels: cdiv(rows, 16) x columns x 16. */
export const panelElements = (rows: number, columns: number) => Math.ceil(rows / panelWidth) * columns * panelWidth;

/** w [rows, columns] (row-major) as panels [cdiv(rows, 16), columns, 16], zero past the last row.
 *  Works on f32 values or f16/bf16 bits alike (zero bits are +0 in each). */
export function packWeightPanels<A extends Float32Array | Uint16Array>(w: A, rows: number, columns: number): A {
  const out = new (w.constructor as new (length: number) => A)(panelElements(rows, columns));
  packWeightPanelsInto(w, out, rows, columns);
  return out;
}

/** packWeightPanels into out's first cdiv(rows, 16) x columns x 16 elements, which must be zero past the last row. */
export function packWeightPanelsInto<A extends Float32Array | Uint16Array>(w: A, out: A, rows: number, columns: number): void {
  if (w.length !== rows * columns) throw new RangeError(`packWeightPanels: ${w.length} values is not ${rows} x ${columns}`);
  if (out.length < panelElements(rows, columns)) throw new RangeError(`packWeightPanels: ${out.length} elements cannot hold ${rows} x ${columns} as panels`);
  for (let n = 0; n < rows; n++) {
    const base = Math.floor(n / panelWidth) * columns * panelWidth + (n % panelWidth);
    for (let k = 0; k < columns; k++) out[base + k * panelWidth] = w[n * columns + k];
  }
}

/** acc[(t - t0) * 32 + j] += sum over k of x[t, kc + k] * wp[p + idiv(j, 16), kc + k, j % 16] for R-token tiles of rows tokens from t0 over the two panels from p (past the last: re-read, never stored), k in chunks of C (the next chunk prefetched by the first tile). */
function panelTiles<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, wp: Global<W, ["P", "K", "16"]>, acc: Scratch, t0: i32, p: i32, rows: i32, K: Const, R: Const, C: Const): void {
  const T = x.dim(0);
  const last = wp.dim(0) - 1;
  for (let kc = 0; kc < K; kc += C) {
    dotTile(acc, 0, R, 32, min(C, K - kc), (i, k) => x.at(min(t0 + i, T - 1), kc + k), (j, k) => wp.at(min(p + idiv(j, 16), last), kc + k, j % 16), C);
    for (let tt = R; tt < rows; tt += R) {
      dotTile(acc, tt * 32, R, 32, min(C, K - kc), (i, k) => x.at(min(t0 + tt + i, T - 1), kc + k), (j, k) => wp.at(min(p + idiv(j, 16), last), kc + k, j % 16));
    }
  }
}

/** acc[(t - t0) * 32 + j] = sum_k x[t, k] * wp[p + idiv(j, 16), k, j % 16] for rows tokens from t0 and the two panels from p (T > 4). */
export function matmulBlock<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, wp: Global<W, ["P", "K", "16"]>, acc: Scratch, t0: i32, p: i32, rows: i32, K: Const): void {
  const T = x.dim(0);
  forEach(cdiv(rows, 12) * 12 * 32, (e) => {
    acc.put(e, 0.0);
  });
  if (T <= 32) {
    panelTiles(x, wp, acc, t0, p, rows, K, 8, 128);
  } else {
    panelTiles(x, wp, acc, t0, p, rows, K, 6, 256);
  }
}

/**
 * acc[t * 64 + j] = sum_k x[t, k] * wp[p + idiv(j, 16), k, j % 16] for j < 64 and the T <= 4
 * tokens: the four panels from p in one pass over k (a panel past the last re-reads it, never
 * stored), each broadcast of x[t, k] feeding the four panels' vectors. With one panel per pass the
 * broadcasts bound a single-token step on a Zen 5 (a C++ probe of TinyLlama f16's layer matmuls,
 * 2 threads, alternating in one run: 44-49 GB/s with one panel, 50-53 with two, 56-58 with four,
 * where the same loop with x held in a register, or a plain sum of the converted weights, ran at
 * 56-60).
 */
function decodePanelGroup<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, wp: Global<W, ["P", "K", "16"]>, acc: Scratch, p: i32, K: Const): void {
  const T = x.dim(0);
  const last = wp.dim(0) - 1;
  forEach(4 * 64, (e) => {
    acc.put(e, 0.0);
  });
  if (T == 1) {
    dotTile(acc, 0, 1, 64, K, (i, k) => x.at(0, k), (j, k) => wp.at(min(p + idiv(j, 16), last), k, j % 16));
  } else if (T == 2) {
    dotTile(acc, 0, 2, 64, K, (i, k) => x.at(i, k), (j, k) => wp.at(min(p + idiv(j, 16), last), k, j % 16));
  } else {
    dotTile(acc, 0, 4, 64, K, (i, k) => x.at(min(i, T - 1), k), (j, k) => wp.at(min(p + idiv(j, 16), last), k, j % 16));
  }
}

/** acc[(t - t0) * columns + j] for the panels from p, as matmulBlocked's dispatch describes (columns = 64 when T <= 4, else 32). */
function panelGroupProducts<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, wp: Global<W, ["P", "K", "16"]>, acc: Scratch, t0: i32, p: i32, rows: i32, K: Const): void {
  if (x.dim(0) <= 4) {
    decodePanelGroup(x, wp, acc, p, K);
  } else {
    matmulBlock(x, wp, acc, t0, p, rows, K);
  }
}

/** Stores the program's products: rows tokens from t0, `columns` columns from panel p (none past N). */
export function storeProducts<A extends Float>(acc: Scratch, out: Global<A, ["T", "N"]>, t0: i32, p: i32, rows: i32, columns: i32): void {
  forEach(rows * columns, (e) => {
    if (p * 16 + (e % columns) < out.dim(1)) {
      out.put(t0 + idiv(e, columns), p * 16 + (e % columns), acc.at(e));
    }
  });
}

// For up to 4 tokens, the program of each fourth panel p computes panels p .. p + 3 (decodePanelGroup)
// and the others nothing; for more, the program of each other panel computes it and the next for its
// block of tokens (matmulBlock).
export const matmulBlocked = kernel({ grid: (x, wp) => [wp.dim(0), cdiv(x.dim(0), 192)], work: (x, wp) => [x.dim(0), wp.dim(0) * 16, wp.dim(1)], threads: 128 })(
  function matmulBlocked<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, wp: Global<W, ["P", "K", "16"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const block = cdiv(x.dim(0), cdiv(x.dim(0), 192));
    const t0 = pid(1) * block;
    const p = pid(0);
    const rows = min(block, x.dim(0) - t0);
    const columns = i32(x.dim(0) <= 4 ? 64 : 32);
    const acc = scratch(192 * 32);
    if (p % idiv(columns, 16) == 0) {
      panelGroupProducts(x, wp, acc, t0, p, rows, K);
      storeProducts(acc, out, t0, p, rows, columns);
    }
  },
);

export const matmulBiasBlocked = kernel({ grid: (x, wp) => [wp.dim(0), cdiv(x.dim(0), 192)], work: (x, wp) => [x.dim(0), wp.dim(0) * 16, wp.dim(1)], threads: 128 })(
  function matmulBiasBlocked<A extends Float, W extends Float>(x: Global<A, ["T", "K"]>, wp: Global<W, ["P", "K", "16"]>, bias: Global<W, ["N"]>, out: Global<A, ["T", "N"]>, K: Const) {
    const block = cdiv(x.dim(0), cdiv(x.dim(0), 192));
    const t0 = pid(1) * block;
    const p = pid(0);
    const rows = min(block, x.dim(0) - t0);
    const columns = i32(x.dim(0) <= 4 ? 64 : 32);
    const acc = scratch(192 * 32);
    if (p % idiv(columns, 16) == 0) {
      panelGroupProducts(x, wp, acc, t0, p, rows, K);
      forEach(rows * columns, (e) => {
        if (p * 16 + (e % columns) < out.dim(1)) {
          out.put(t0 + idiv(e, columns), p * 16 + (e % columns), acc.at(e) + bias.at(p * 16 + (e % columns)));
        }
      });
    }
  },
);
