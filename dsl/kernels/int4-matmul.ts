// Weight-only int4 matmul with group-wise scales and zero points, GPTQ's packing (AutoGPTQ,
// checkpoint_format "gptq_v2": zeros stored as they are used):
//   qweight [K / 8, N] i32: nibble i (bits 4i..4i+3) of qweight[r, n] is the weight of row k = 8r + i;
//   scales  [K / G, N] (f16 or bf16 in checkpoints);
//   qzeros  [K / G, N / 8] i32: nibble n % 8 of qzeros[g, n / 8] is column n's zero point in group g;
//   out[t, n] = sum_k x[t, k] * (q[k, n] - zero[k / G, n]) * scale[k / G, n].
// "gptq" (v1) checkpoints store zero - 1 and need 1 added to each zero nibble at load; AWQ packs
// along N in the order 0 2 4 6 1 3 5 7 and is repacked to this layout at load.
// One thread per output column (128 columns per program), so a warp reads 32 consecutive words of
// a qweight row: the coalesced GEMV shape for decode on GPUs. K is a multiple of G, G of 8.
// dequantizeInt4 writes the weights those stand for in Hugging Face layout [N, K], in a float dtype:
// steps of many rows read them so with the tensor-core matmul (dsl/kernels/matmul-mma.ts).
import { cdiv, f32, forEach, idiv, kernel, min, pid, reduceSum, type Const, type Float, type Global } from "../index.ts";

export const matmulInt4 = kernel({ grid: (x, qweight) => [x.dim(0), cdiv(qweight.dim(1), 128)], threads: 128 })(
  function matmulInt4<A extends Float, S extends Float>(
    x: Global<A, ["T", "K"]>, qweight: Global<"i32", ["K8", "N"]>, scales: Global<S, ["KG", "N"]>, qzeros: Global<"i32", ["KG", "N8"]>,
    out: Global<A, ["T", "N"]>, K: Const, G: Const,
  ) {
    const t = pid(0);
    const N = qweight.dim(1);
    forEach(min(128, N - pid(1) * 128), (c) => {
      const n = pid(1) * 128 + c;
      let acc = f32(0);
      for (let g = 0; g < idiv(K, G); g++) {
        const zero = (qzeros.at(g, idiv(n, 8)) >> (4 * (n % 8))) & 15;
        let part = f32(0);
        for (let r = g * idiv(G, 8); r < (g + 1) * idiv(G, 8); r++) {
          const word = qweight.at(r, n);
          part += reduceSum(8, (i) => f32(((word >> (4 * i)) & 15) - zero) * x.at(t, 8 * r + i));
        }
        acc += part * scales.at(g, n);
      }
      out.put(t, n, acc);
    });
  },
);

export const dequantizeInt4 = kernel({ grid: (qweight) => [qweight.dim(1)], threads: 128 })(
  function dequantizeInt4<H extends Float, S extends Float>(
    qweight: Global<"i32", ["K8", "N"]>, scales: Global<S, ["KG", "N"]>, qzeros: Global<"i32", ["KG", "N8"]>, out: Global<H, ["N", "K"]>, K: Const, G: Const,
  ) {
    const n = pid(0);
    forEach(K, (k) => {
      const g = idiv(k, G);
      const zero = (qzeros.at(g, idiv(n, 8)) >> (4 * (n % 8))) & 15;
      out.put(n, k, f32(((qweight.at(idiv(k, 8), n) >> (4 * (k % 8))) & 15) - zero) * scales.at(g, n));
    });
  },
);
