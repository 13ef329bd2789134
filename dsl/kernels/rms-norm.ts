// RMSNorm over the last dim (Zhang & Sennrich 2019): out = x / sqrt(mean(x^2) + eps) * w.
// Layout: x, out [T, D] row-major; w [D]. One program per token row.
import { forEach, kernel, reduceSum, pid, rsqrt, type Const, type f32 } from "../index.ts";
import type { Float, Global } from "../index.ts";

export const rmsNorm = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function rmsNorm<A extends Float, W extends Float>(x: Global<A, ["T", "D"]>, w: Global<W, ["D"]>, out: Global<A, ["T", "D"]>, eps: f32, D: Const) {
    const t = pid(0);
    const inv = rsqrt(reduceSum(D, (i) => x.at(t, i) * x.at(t, i)) / D + eps);
    forEach(D, (i) => {
      out.put(t, i, x.at(t, i) * inv * w.at(i));
    });
  },
);
