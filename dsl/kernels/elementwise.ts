// Elementwise and layout kernels the graph falls back to when no fusion pass applies (the fused
// forms live in add-rms-norm.ts and activations.ts). Layout: row-major [T, N]. One program per row.
import { exp, forEach, kernel, pid, sqrt, tanh, type Const, type f32, type Float, type Global } from "../index.ts";

export const add = kernel({ grid: (a) => [a.dim(0)], threads: 128 })(
  function add<A extends Float>(a: Global<A, ["T", "N"]>, b: Global<A, ["T", "N"]>, out: Global<A, ["T", "N"]>, N: Const) {
    const t = pid(0);
    forEach(N, (i) => {
      out.put(t, i, a.at(t, i) + b.at(t, i));
    });
  },
);

/** x[t, i] += bias[i], in place: the bias of a linear whose matmul has no bias form (the CPU's quantized panels). */
export const addBias = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function addBias<A extends Float, W extends Float>(x: Global<A, ["T", "N"]>, bias: Global<W, ["N"]>, N: Const) {
    const t = pid(0);
    forEach(N, (i) => {
      x.put(t, i, x.at(t, i) + bias.at(i));
    });
  },
);

export const mul = kernel({ grid: (a) => [a.dim(0)], threads: 128 })(
  function mul<A extends Float>(a: Global<A, ["T", "N"]>, b: Global<A, ["T", "N"]>, out: Global<A, ["T", "N"]>, N: Const) {
    const t = pid(0);
    forEach(N, (i) => {
      out.put(t, i, a.at(t, i) * b.at(t, i));
    });
  },
);

export const silu = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function silu<A extends Float>(x: Global<A, ["T", "N"]>, out: Global<A, ["T", "N"]>, N: Const) {
    const t = pid(0);
    forEach(N, (i) => {
      const v = x.at(t, i);
      out.put(t, i, v / (1.0 + exp(-v)));
    });
  },
);

export const geluTanh = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function geluTanh<A extends Float>(x: Global<A, ["T", "N"]>, out: Global<A, ["T", "N"]>, N: Const) {
    const t = pid(0);
    forEach(N, (i) => {
      const v = x.at(t, i);
      // 0.5 (1 + tanh(u)) as 1 / (1 + exp(-2u)), which vectorizes (activations.ts).
      out.put(t, i, v / (1.0 + exp(-2.0 * sqrt(2.0 / 3.141592653589793) * (v + 0.044715 * v * v * v))));
    });
  },
);

/** out = x * scale (Gemma's embedding scaling when not fused into the gather). */
export const scale = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function scale<A extends Float>(x: Global<A, ["T", "N"]>, out: Global<A, ["T", "N"]>, factor: f32, N: Const) {
    const t = pid(0);
    forEach(N, (i) => {
      out.put(t, i, x.at(t, i) * factor);
    });
  },
);

/** out[t, j] = x[t, offset + j]: a column slice made contiguous (q/k/v out of a fused qkv row). */
export const sliceColumns = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function sliceColumns<A extends Float>(x: Global<A, ["T", "N"]>, out: Global<A, ["T", "M"]>, offset: Const, M: Const) {
    const t = pid(0);
    forEach(M, (j) => {
      out.put(t, j, x.at(t, offset + j));
    });
  },
);

/** out[i, :] = x[index[i], :]: the rows whose logits the sampler needs. */
export const gatherRows = kernel({ grid: (index) => [index.dim(0)], threads: 128 })(
  function gatherRows<A extends Float>(index: Global<"i32", ["L"]>, x: Global<A, ["T", "N"]>, out: Global<A, ["L", "N"]>, N: Const) {
    const i = pid(0);
    const row = index.at(i);
    forEach(N, (j) => {
      out.put(i, j, x.at(row, j));
    });
  },
);

/** out = cap * tanh(x / cap): Gemma-2's final logit soft-capping. */
export const softcap = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function softcap<A extends Float>(x: Global<A, ["T", "N"]>, out: Global<A, ["T", "N"]>, cap: f32, N: Const) {
    const t = pid(0);
    forEach(N, (i) => {
      out.put(t, i, cap * tanh(x.at(t, i) / cap));
    });
  },
);

/** out = x stored in another dtype (f32 activations rounded to the weights' f16/bf16 for a tensor-core matmul). */
export const castRows = kernel({ grid: (x) => [x.dim(0)], threads: 128 })(
  function castRows<A extends Float, H extends Float>(x: Global<A, ["T", "N"]>, out: Global<H, ["T", "N"]>, N: Const) {
    const t = pid(0);
    forEach(N, (i) => {
      out.put(t, i, x.at(t, i));
    });
  },
);
