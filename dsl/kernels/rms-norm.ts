// RMSNorm over the last dim (Zhang & Sennrich 2019): out = x / sqrt(mean(x^2) + eps) * (w + wOffset).
// wOffset is 0 for LLaMA-style norms and 1 for Gemma's (1 + w). Layout: x, out [T, D]; w [D].
// One program per row; also used per head for Qwen3's q/k norms (rows = tokens * heads). A
// program has 1024 threads: a decode step has one row per sequence, and 128 threads would walk a
// 4096-wide row in 32 dependent steps on one GPU multiprocessor.
import { forEach, kernel, pid, reduceSum, rsqrt, type Const, type f32, type Float, type Global } from "../index.ts";

export const rmsNorm = kernel({ grid: (x) => [x.dim(0)], threads: 1024 })(
  function rmsNorm<A extends Float, W extends Float>(x: Global<A, ["T", "D"]>, w: Global<W, ["D"]>, out: Global<A, ["T", "D"]>, eps: f32, wOffset: f32, D: Const) {
    const t = pid(0);
    const inv = rsqrt(reduceSum(D, (i) => x.at(t, i) * x.at(t, i)) / D + eps);
    forEach(D, (i) => {
      out.put(t, i, x.at(t, i) * inv * (w.at(i) + wOffset));
    });
  },
);
