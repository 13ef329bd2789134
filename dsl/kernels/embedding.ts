// Embedding gather: out[t, :] = table[ids[t], :] * scale (scale is 1, or sqrt(hidden) for Gemma).
// Layout: ids [T] i32; table [V, D]; out [T, D]. One program per token.
import { forEach, kernel, pid, type Const, type f32, type Float, type Global } from "../index.ts";

export const embedding = kernel({ grid: (ids) => [ids.dim(0)], threads: 128 })(
  function embedding<W extends Float, A extends Float>(ids: Global<"i32", ["T"]>, table: Global<W, ["V", "D"]>, out: Global<A, ["T", "D"]>, scale: f32, D: Const) {
    const t = pid(0);
    const id = ids.at(t);
    forEach(D, (i) => {
      out.put(t, i, table.at(id, i) * scale);
    });
  },
);
