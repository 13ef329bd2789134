// LayerNorm over the last dim without a bias (Ba et al. 2016; Cohere's CohereLayerNorm):
// out = (x - mean(x)) / sqrt(var(x) + eps) * w, the variance taken about the mean in a second pass
// rather than as E[x^2] - mean^2, which cancels badly for rows far from zero mean.
// Layout: x, out [T, D]; w [D]. One program of 1024 threads per row (why so many: rms-norm.ts).
import { forEach, kernel, pid, reduceSum, rsqrt, type Const, type f32, type Float, type Global } from "../index.ts";

export const layerNorm = kernel({ grid: (x) => [x.dim(0)], threads: 1024 })(
  function layerNorm<A extends Float, W extends Float>(x: Global<A, ["T", "D"]>, w: Global<W, ["D"]>, out: Global<A, ["T", "D"]>, eps: f32, D: Const) {
    const t = pid(0);
    const mean = reduceSum(D, (i) => x.at(t, i)) / D;
    const inv = rsqrt(reduceSum(D, (i) => (x.at(t, i) - mean) * (x.at(t, i) - mean)) / D + eps);
    forEach(D, (i) => {
      out.put(t, i, (x.at(t, i) - mean) * inv * w.at(i));
    });
  },
);
