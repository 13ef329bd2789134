// Sampling helpers, one program per logits row [T, V]. Order is by value descending, ties by lower
// index first (torch.topk / argmax on CPU pick the first maximum too). Rows must not contain NaN,
// and topK needs K <= V.
//   argmax: out[t] = the first index of the row's maximum.
//   topK:   values[t, r], indices[t, r] for r < K: the K largest entries in that order. Each of the
//           K steps is two passes over the row (a max, then the first index holding it after the
//           previous pick), so it is meant for small K.
//   applyLogitEdits: the logit processors of the rows sampleRows then draws from (see below).
//   sampleRows: a token for each sample row r, drawn from logits row rowIndices[r] (see below).
import { exp, f32, floatKey, forEach, i32, kernel, max, pid, reduceMax, reduceMin, reduceSum, type Const, type Float, type Global } from "../index.ts";

export const argmax = kernel({ grid: (logits) => [logits.dim(0)], threads: 256 })(
  function argmax<A extends Float>(logits: Global<A, ["T", "V"]>, out: Global<"i32", ["T"]>) {
    const t = pid(0);
    const V = logits.dim(1);
    const m = reduceMax(V, (i) => logits.at(t, i));
    out.put(t, i32(reduceMin(V, (i) => (logits.at(t, i) == m ? f32(i) : Infinity))));
  },
);

export const topK = kernel({ grid: (logits) => [logits.dim(0)], threads: 256 })(
  function topK<A extends Float>(logits: Global<A, ["T", "V"]>, values: Global<"f32", ["T", "K"]>, indices: Global<"i32", ["T", "K"]>, K: Const) {
    const t = pid(0);
    const V = logits.dim(1);
    let previous = Infinity;
    let previousIndex = i32(-1);
    for (let r = 0; r < K; r++) {
      // The largest entry ordered after (previous, previousIndex).
      const v = reduceMax(V, (i) => (logits.at(t, i) < previous || (logits.at(t, i) == previous && i > previousIndex) ? logits.at(t, i) : -Infinity));
      const at = i32(reduceMin(V, (i) => (logits.at(t, i) == v && (v < previous || i > previousIndex) ? f32(i) : Infinity)));
      values.put(t, r, v);
      indices.put(t, r, at);
      previous = v;
      previousIndex = at;
    }
  },
);

/**
 * The logit processors of sample row r, in place on logits row rowIndices[r], as a list of edits
 * editOffsets[r]..editOffsets[r + 1] (distinct tokens of that row): token e's logit v becomes
 *   w = v + editBias[e]   (logit_bias; -Infinity bans: min_tokens' stop ids, bad words)
 *   (w > 0 ? w / editRepetition[e] : w * editRepetition[e]) - editSubtract[e]
 * where editRepetition is the repetition penalty for a token of the prompt or the output (1
 * otherwise) and editSubtract is frequency_penalty * its count in the output + presence_penalty
 * (0 for a token not in the output): the native sampler's order (runtime/native/sampler.cc). Rows
 * sharing a logits row (the n sequences forked from a prompt) must give their edits on one of them
 * only. One program per sample row, a thread per edit.
 */
export const applyLogitEdits = kernel({ grid: (logits, rowIndices) => [rowIndices.dim(0)], threads: 128 })(
  function applyLogitEdits(
    logits: Global<"f32", ["L", "V"]>, rowIndices: Global<"i32", ["R"]>, editOffsets: Global<"i32", ["R1"]>, editTokenIds: Global<"i32", ["E"]>,
    editBias: Global<"f32", ["E"]>, editRepetition: Global<"f32", ["E"]>, editSubtract: Global<"f32", ["E"]>,
  ) {
    const r = pid(0);
    const row = rowIndices.at(r);
    const first = editOffsets.at(r);
    forEach(editOffsets.at(r + 1) - first, (j) => {
      const e = first + j;
      const token = editTokenIds.at(e);
      const w = logits.at(row, token) + editBias.at(e);
      logits.put(row, token, (w > 0.0 ? w / editRepetition.at(e) : w * editRepetition.at(e)) - editSubtract.at(e));
    });
  },
);

/**
 * Sampling where the logits are, so only token ids leave the device. Sample row r reads logits row
 * rowIndices[r] (several rows may share one: the n sequences forked from a prompt) and its
 * temperature, top_k, top_p, min_p and a uniform draw u in [0, 1):
 *   - temperature below 1e-5 (vLLM's _SAMPLING_EPS): the first index of the largest logit;
 *   - else x = logit / temperature, and a token is kept when it passes every filter, each a floor on
 *     x: min_p keeps exp(x - max x) >= min_p; top_k (0 < k < V) keeps x >= the k-th largest x
 *     (ties at the cut kept, as vLLM's threshold mask does); top_p (< 1) keeps the largest x whose
 *     probability mass among the tokens min_p and top_k kept reaches top_p, again keeping every
 *     token tied at the cut. The token is the first index, in vocabulary order, at which the
 *     running sum of the kept tokens' exp(x - max x) exceeds u times their total.
 * The k-th largest value and the top-p cut are found exactly by bisecting floatKey(x) (32 passes
 * each, only when the filter is on); the draw bisects the vocabulary (log2 V passes of prefix sums).
 */
export const sampleRows = kernel({ grid: (logits, rowIndices) => [rowIndices.dim(0)], threads: 256 })(
  function sampleRows(
    logits: Global<"f32", ["L", "V"]>, rowIndices: Global<"i32", ["R"]>, temperature: Global<"f32", ["R"]>, topK: Global<"i32", ["R"]>,
    topP: Global<"f32", ["R"]>, minP: Global<"f32", ["R"]>, uniform: Global<"f32", ["R"]>, out: Global<"i32", ["R"]>,
  ) {
    const r = pid(0);
    const row = rowIndices.at(r);
    const V = logits.dim(1);
    const t = temperature.at(r);
    const zMax = reduceMax(V, (i) => logits.at(row, i));
    let token = i32(0);
    if (t < 0.00001) {
      token = i32(reduceMin(V, (i) => (logits.at(row, i) == zMax ? f32(i) : Infinity)));
    } else {
      // Division by a positive number keeps the order, so the largest x is the largest logit's.
      const xMax = zMax / t;
      // min_p's floor: the smallest x it keeps (the largest always passes).
      let floor = floatKey(-Infinity);
      if (minP.at(r) > 0.0) {
        floor = floatKey(reduceMin(V, (i) => (exp(logits.at(row, i) / t - xMax) >= minP.at(r) ? logits.at(row, i) / t : Infinity)));
      }
      const k = topK.at(r);
      if (k > 0 && k < V) {
        // The largest key with at least k values at or above it: the k-th largest x. Keys of
        // negative floats are negative, so the sign is settled first and each bit after it.
        let cut = reduceSum(V, (i) => (floatKey(logits.at(row, i) / t) >= 0 ? f32(1) : f32(0))) >= f32(k) ? 0 : floatKey(-Infinity);
        for (let j = 0; j < 31; j++) {
          const probe = cut + (1 << (30 - j));
          if (reduceSum(V, (i) => (floatKey(logits.at(row, i) / t) >= probe ? f32(1) : f32(0))) >= f32(k)) {
            cut = probe;
          }
        }
        floor = max(floor, cut);
      }
      const p = topP.at(r);
      if (p < 1.0) {
        const mass = p * reduceSum(V, (i) => (floatKey(logits.at(row, i) / t) >= floor ? exp(logits.at(row, i) / t - xMax) : f32(0)));
        // The largest key whose kept tokens at or above it hold at least that mass.
        let cut = reduceSum(V, (i) => (floatKey(logits.at(row, i) / t) >= max(floor, 0) ? exp(logits.at(row, i) / t - xMax) : f32(0))) >= mass ? 0 : floatKey(-Infinity);
        for (let j = 0; j < 31; j++) {
          const probe = cut + (1 << (30 - j));
          if (reduceSum(V, (i) => (floatKey(logits.at(row, i) / t) >= max(floor, probe) ? exp(logits.at(row, i) / t - xMax) : f32(0))) >= mass) {
            cut = probe;
          }
        }
        floor = max(floor, cut);
      }
      const target = uniform.at(r) * reduceSum(V, (i) => (floatKey(logits.at(row, i) / t) >= floor ? exp(logits.at(row, i) / t - xMax) : f32(0)));
      // The longest prefix of the vocabulary whose kept mass is at most the target; the token
      // after it is drawn. Rounding can leave it on a dropped token or past the end: the next
      // kept token, else the last.
      let before = i32(0);
      for (let j = 0; j < 25; j++) {
        const probe = before + (1 << (24 - j));
        if (probe <= V) {
          if (reduceSum(probe, (i) => (floatKey(logits.at(row, i) / t) >= floor ? exp(logits.at(row, i) / t - xMax) : f32(0))) <= target) {
            before = probe;
          }
        }
      }
      const next = reduceMin(V, (i) => (i >= before && floatKey(logits.at(row, i) / t) >= floor ? f32(i) : Infinity));
      token = next < Infinity ? i32(next) : i32(reduceMax(V, (i) => (floatKey(logits.at(row, i) / t) >= floor ? f32(i) : -1.0)));
    }
    out.put(r, token);
  },
);
