// Row softmax with a scale: out[t, :] = softmax(x[t, :] * scale), max-subtracted (scale is
// 1 / temperature for sampling). Layout: x, out [T, V], V a run-time dim (a vocabulary or any row
// length). One program per row. Rows must not contain NaN. The other logits helpers: gatherRows
// and softcap (elementwise.ts), argmax and topK (sampling.ts).
import { exp, forEach, kernel, pid, reduceMax, reduceSum, type f32, type Float, type Global } from "../index.ts";

export const softmax = kernel({ grid: (x) => [x.dim(0)], threads: 256 })(
  function softmax<A extends Float, O extends Float>(x: Global<A, ["T", "V"]>, out: Global<O, ["T", "V"]>, scale: f32) {
    const t = pid(0);
    const V = x.dim(1);
    const m = reduceMax(V, (i) => x.at(t, i) * scale);
    const inv = 1.0 / reduceSum(V, (i) => exp(x.at(t, i) * scale - m));
    forEach(V, (i) => {
      out.put(t, i, exp(x.at(t, i) * scale - m) * inv);
    });
  },
);
