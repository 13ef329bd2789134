// Embedding gather: out[t, :] = table[ids[t], :] * scale (scale is 1, or sqrt(hidden) for Gemma).
// Layout: ids [T] i32; table [V, D]; out [T, D]. One program per token. embeddingQ8Panels and
// embeddingQ4Panels read a GGUF table as the CPU plan's quantized panels (matmul-quant-panels.ts's
// layouts: row id is lane id % 16 of panel idiv(id, 16)), so a table tied to the LM head is held
// once, and an untied one stays as small as its blocks.
import { f32, forEach, idiv, kernel, pid, type Const, type Float, type Global } from "../index.ts";

export const embedding = kernel({ grid: (ids) => [ids.dim(0)], threads: 128 })(
  function embedding<W extends Float, A extends Float>(ids: Global<"i32", ["T"]>, table: Global<W, ["V", "D"]>, out: Global<A, ["T", "D"]>, scale: f32, D: Const) {
    const t = pid(0);
    const id = ids.at(t);
    forEach(D, (i) => {
      out.put(t, i, table.at(id, i) * scale);
    });
  },
);

export const embeddingQ8Panels = kernel({ grid: (ids) => [ids.dim(0)], threads: 128 })(
  function embeddingQ8Panels<A extends Float>(ids: Global<"i32", ["T"]>, wq: Global<"i8", ["P", "D", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GM", "16"]>, out: Global<A, ["T", "D"]>, scale: f32, D: Const, G: Const, MG: Const) {
    const t = pid(0);
    const p = idiv(ids.at(t), 16);
    const j = ids.at(t) % 16;
    forEach(D, (k) => {
      out.put(t, k, (f32(wq.at(p, k, j)) * scales.at(p, idiv(k, G), j) - mins.at(p, idiv(k, MG), j)) * scale);
    });
  },
);

export const embeddingQ4Panels = kernel({ grid: (ids) => [ids.dim(0)], threads: 128 })(
  function embeddingQ4Panels<A extends Float>(ids: Global<"i32", ["T"]>, wq: Global<"u8", ["P", "H", "16"]>, scales: Global<"f32", ["P", "GS", "16"]>, mins: Global<"f32", ["P", "GS", "16"]>, out: Global<A, ["T", "D"]>, scale: f32, D: Const) {
    const t = pid(0);
    const p = idiv(ids.at(t), 16);
    const j = ids.at(t) % 16;
    forEach(D, (k) => {
      out.put(t, k, (f32((wq.at(p, idiv(k, 2), j) >> (4 * (k % 2))) & 15) * scales.at(p, idiv(k, 32), j) - mins.at(p, idiv(k, 32), j)) * scale);
    });
  },
);
