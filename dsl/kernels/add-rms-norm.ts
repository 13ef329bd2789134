// Fused residual add + RMSNorm (the pair every pre-norm block does twice):
//   residual <- residual + x;  out <- residual / sqrt(mean(residual^2) + eps) * (w + wOffset)
// wOffset is 0 for LLaMA-style norms and 1 for Gemma's (1 + w) norms. Layout: x, residual, out
// [T, D]; w [D]. One program of 1024 threads per token (why so many: rms-norm.ts). Reference:
// rms-norm.ts followed by an add.
import { forEach, kernel, pid, reduceSum, rsqrt, type Const, type f32, type Float, type Global } from "../index.ts";

export const addRmsNorm = kernel({ grid: (x) => [x.dim(0)], threads: 1024 })(
  function addRmsNorm<A extends Float, W extends Float>(x: Global<A, ["T", "D"]>, residual: Global<A, ["T", "D"]>, w: Global<W, ["D"]>, out: Global<A, ["T", "D"]>, eps: f32, wOffset: f32, D: Const) {
    const t = pid(0);
    forEach(D, (i) => {
      residual.put(t, i, residual.at(t, i) + x.at(t, i));
    });
    const inv = rsqrt(reduceSum(D, (i) => residual.at(t, i) * residual.at(t, i)) / D + eps);
    forEach(D, (i) => {
      out.put(t, i, residual.at(t, i) * inv * (w.at(i) + wOffset));
    });
  },
);
