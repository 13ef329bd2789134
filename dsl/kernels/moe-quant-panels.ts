// The MoE experts (moe.ts's moeGateUp and moeDown: same routing, gathering, activation, biases and
// outputs) over experts stacked in quantized panels (matmul-quant-panels.ts's layouts, a GGUF's
// expert stacks repacked at load): weight = scale * q - min per group of k, so a quantized MoE file
// is read at about a byte (8-bit) or three quarters of one (4-bit) per weight, where the f16
// panels it was widened into read two.
//   moeGateUpQ8Panels / moeDownQ8Panels: int8 values [P, K, 16], scales [P, K / G, 16], mins
//     [P, K / MG, 16] (MG = K and one zero row for formats without offsets); gate and up share the format.
//   moeGateUpQ4Panels / moeDownQ4Panels: nibbles [P, K / 2, 16] (k = 2h low, 2h + 1 high), scales
//     and mins [P, K / 32, 16].
// A lone row of an expert (every expert of a one-sequence decode step) runs a one-row tile over
// the whole k, which the C++ emits as its grouped pass (each group's integers times x summed
// first, the scale and offset applied once); more rows run 6-row tiles that dequantize each
// weight vector in registers.
import { cdiv, dotTile, f32, forEach, i32, idiv, kernel, min, pid, scratch, type Const, type Float, type Global, type Scratch } from "../index.ts";
import { gatherRows, storeHidden, storeWeighted } from "./moe.ts";

/** acc[i * 32 + j] = sum over k of v[idiv(rows[i], div), k] * w[p * 16 + j, k] for the count gathered rows, w the int8 panels from p. */
function q8ExpertProducts<A extends Float>(
  v: Global<A, [string, string]>, rows: Scratch, div: i32, wq: Global<"i8", ["P", string, "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GM", "16"]>,
  acc: Scratch, count: i32, p: i32, K: Const, G: Const, MG: Const,
): void {
  forEach(96 * 32, (c) => {
    acc.put(c, 0.0);
  });
  if (count == 1) {
    dotTile(acc, 0, 1, 32, K, (i, k) => v.at(idiv(i32(rows.at(0)), div), k), (j, k) => f32(wq.at(p + idiv(j, 16), k, j % 16)) * scales.at(p + idiv(j, 16), idiv(k, G), j % 16) - mins.at(p + idiv(j, 16), idiv(k, MG), j % 16));
  } else {
    for (let tt = 0; tt < count; tt += 6) {
      dotTile(acc, tt * 32, 6, 32, K, (i, k) => v.at(idiv(i32(rows.at(min(tt + i, count - 1))), div), k), (j, k) => f32(wq.at(p + idiv(j, 16), k, j % 16)) * scales.at(p + idiv(j, 16), idiv(k, G), j % 16) - mins.at(p + idiv(j, 16), idiv(k, MG), j % 16));
    }
  }
}

/** q8ExpertProducts over the 4-bit panels from p. */
function q4ExpertProducts<A extends Float>(
  v: Global<A, [string, string]>, rows: Scratch, div: i32, wq: Global<"u8", ["P", "H", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GS", "16"]>,
  acc: Scratch, count: i32, p: i32, K: Const,
): void {
  forEach(96 * 32, (c) => {
    acc.put(c, 0.0);
  });
  if (count == 1) {
    dotTile(acc, 0, 1, 32, K, (i, k) => v.at(idiv(i32(rows.at(0)), div), k), (j, k) => f32((wq.at(p + idiv(j, 16), idiv(k, 2), j % 16) >> (4 * (k % 2))) & 15) * scales.at(p + idiv(j, 16), idiv(k, 32), j % 16) - mins.at(p + idiv(j, 16), idiv(k, 32), j % 16));
  } else {
    for (let tt = 0; tt < count; tt += 6) {
      dotTile(acc, tt * 32, 6, 32, K, (i, k) => v.at(idiv(i32(rows.at(min(tt + i, count - 1))), div), k), (j, k) => f32((wq.at(p + idiv(j, 16), idiv(k, 2), j % 16) >> (4 * (k % 2))) & 15) * scales.at(p + idiv(j, 16), idiv(k, 32), j % 16) - mins.at(p + idiv(j, 16), idiv(k, 32), j % 16));
    }
  }
}

// Programs as moeGateUp's and moeDown's: program q takes outputs 32 idiv(q, E) .. + 31 of expert q % E.
export const moeGateUpQ8Panels = kernel({ grid: (x, ids, gateQ) => [cdiv(gateQ.dim(0), 2)], work: (x, ids, gateQ, gateS, gateM, upQ, upS, upM, h, gateBias, upBias, alpha, limit, K, I) => [x.dim(0), ids.dim(1), 2 * I, K], threads: 128 })(
  function moeGateUpQ8Panels<A extends Float, W extends Float>(
    x: Global<A, ["T", "K"]>, ids: Global<"i32", ["T", "KE"]>,
    gateQ: Global<"i8", ["P", "K", "16"]>, gateS: Global<"f32", ["P", "GS", "16"]>, gateM: Global<"f32", ["P", "GM", "16"]>,
    upQ: Global<"i8", ["P", "K", "16"]>, upS: Global<"f32", ["P", "GS", "16"]>, upM: Global<"f32", ["P", "GM", "16"]>,
    h: Global<A, ["TK", "I"]>, gateBias: Global<W, ["EI"]>, upBias: Global<W, ["EI"]>, alpha: f32, limit: f32, K: Const, I: Const, G: Const, MG: Const, ACT: Const, BIAS: Const,
  ) {
    const E = idiv(gateQ.dim(0), idiv(I, 16));
    const e = pid(0) % E;
    const i0 = 32 * idiv(pid(0), E);
    const p = e * idiv(I, 16) + idiv(i0, 16);
    const rows = scratch(97);
    const g = scratch(96 * 32);
    const u = scratch(96 * 32);
    for (let t0 = 0; t0 < x.dim(0); t0 += 96) {
      gatherRows(ids, rows, e, t0);
      const count = i32(rows.at(96));
      if (count > 0) {
        q8ExpertProducts(x, rows, ids.dim(1), gateQ, gateS, gateM, g, count, p, K, G, MG);
        q8ExpertProducts(x, rows, ids.dim(1), upQ, upS, upM, u, count, p, K, G, MG);
        storeHidden(g, u, rows, h, gateBias, upBias, alpha, limit, count, e, i0, I, ACT, BIAS);
      }
    }
  },
);

export const moeDownQ8Panels = kernel({ grid: (h, ids, weights, downQ) => [cdiv(downQ.dim(0), 2)], work: (h, ids, weights, downQ, downS, downM, y, downBias, I, N) => [h.dim(0), N, I], threads: 128 })(
  function moeDownQ8Panels<A extends Float, W extends Float>(
    h: Global<A, ["TK", "I"]>, ids: Global<"i32", ["T", "KE"]>, weights: Global<"f32", ["T", "KE"]>,
    downQ: Global<"i8", ["P", "I", "16"]>, downS: Global<"f32", ["P", "GS", "16"]>, downM: Global<"f32", ["P", "GM", "16"]>,
    y: Global<"f32", ["TK", "N"]>, downBias: Global<W, ["EN"]>, I: Const, N: Const, G: Const, MG: Const, BIAS: Const,
  ) {
    const E = idiv(downQ.dim(0), idiv(N, 16));
    const e = pid(0) % E;
    const n0 = 32 * idiv(pid(0), E);
    const p = e * idiv(N, 16) + idiv(n0, 16);
    const rows = scratch(97);
    const acc = scratch(96 * 32);
    for (let t0 = 0; t0 < ids.dim(0); t0 += 96) {
      gatherRows(ids, rows, e, t0);
      const count = i32(rows.at(96));
      if (count > 0) {
        q8ExpertProducts(h, rows, 1, downQ, downS, downM, acc, count, p, I, G, MG);
        storeWeighted(acc, rows, ids, weights, y, downBias, count, e, n0, N, BIAS);
      }
    }
  },
);

export const moeGateUpQ4Panels = kernel({ grid: (x, ids, gateQ) => [cdiv(gateQ.dim(0), 2)], work: (x, ids, gateQ, gateS, gateM, upQ, upS, upM, h, gateBias, upBias, alpha, limit, K, I) => [x.dim(0), ids.dim(1), 2 * I, K], threads: 128 })(
  function moeGateUpQ4Panels<A extends Float, W extends Float>(
    x: Global<A, ["T", "K"]>, ids: Global<"i32", ["T", "KE"]>,
    gateQ: Global<"u8", ["P", "H", "16"]>, gateS: Global<"f32", ["P", "GS", "16"]>, gateM: Global<"f32", ["P", "GS", "16"]>,
    upQ: Global<"u8", ["P", "H", "16"]>, upS: Global<"f32", ["P", "GS", "16"]>, upM: Global<"f32", ["P", "GS", "16"]>,
    h: Global<A, ["TK", "I"]>, gateBias: Global<W, ["EI"]>, upBias: Global<W, ["EI"]>, alpha: f32, limit: f32, K: Const, I: Const, ACT: Const, BIAS: Const,
  ) {
    const E = idiv(gateQ.dim(0), idiv(I, 16));
    const e = pid(0) % E;
    const i0 = 32 * idiv(pid(0), E);
    const p = e * idiv(I, 16) + idiv(i0, 16);
    const rows = scratch(97);
    const g = scratch(96 * 32);
    const u = scratch(96 * 32);
    for (let t0 = 0; t0 < x.dim(0); t0 += 96) {
      gatherRows(ids, rows, e, t0);
      const count = i32(rows.at(96));
      if (count > 0) {
        q4ExpertProducts(x, rows, ids.dim(1), gateQ, gateS, gateM, g, count, p, K);
        q4ExpertProducts(x, rows, ids.dim(1), upQ, upS, upM, u, count, p, K);
        storeHidden(g, u, rows, h, gateBias, upBias, alpha, limit, count, e, i0, I, ACT, BIAS);
      }
    }
  },
);

export const moeDownQ4Panels = kernel({ grid: (h, ids, weights, downQ) => [cdiv(downQ.dim(0), 2)], work: (h, ids, weights, downQ, downS, downM, y, downBias, I, N) => [h.dim(0), N, I], threads: 128 })(
  function moeDownQ4Panels<A extends Float, W extends Float>(
    h: Global<A, ["TK", "I"]>, ids: Global<"i32", ["T", "KE"]>, weights: Global<"f32", ["T", "KE"]>,
    downQ: Global<"u8", ["P", "H", "16"]>, downS: Global<"f32", ["P", "GS", "16"]>, downM: Global<"f32", ["P", "GS", "16"]>,
    y: Global<"f32", ["TK", "N"]>, downBias: Global<W, ["EN"]>, I: Const, N: Const, BIAS: Const,
  ) {
    const E = idiv(downQ.dim(0), idiv(N, 16));
    const e = pid(0) % E;
    const n0 = 32 * idiv(pid(0), E);
    const p = e * idiv(N, 16) + idiv(n0, 16);
    const rows = scratch(97);
    const acc = scratch(96 * 32);
    for (let t0 = 0; t0 < ids.dim(0); t0 += 96) {
      gatherRows(ids, rows, e, t0);
      const count = i32(rows.at(96));
      if (count > 0) {
        q4ExpertProducts(h, rows, 1, downQ, downS, downM, acc, count, p, I);
        storeWeighted(acc, rows, ids, weights, y, downBias, count, e, n0, N, BIAS);
      }
    }
  },
);
