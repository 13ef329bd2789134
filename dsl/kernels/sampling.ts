// Greedy and top-k helpers for sampling, one program per logits row [T, V]. Order is by value
// descending, ties by lower index first (torch.topk / argmax on CPU pick the first maximum too).
// Rows must not contain NaN, and topK needs K <= V.
//   argmax: out[t] = the first index of the row's maximum.
//   topK:   values[t, r], indices[t, r] for r < K: the K largest entries in that order. Each of the
//           K steps is two passes over the row (a max, then the first index holding it after the
//           previous pick), so it is meant for small K.
import { f32, i32, kernel, pid, reduceMax, reduceMin, type Const, type Float, type Global } from "../index.ts";

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
