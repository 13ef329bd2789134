// Writes this step's keys and values into the paged KV cache: token t goes to block
// slot / BS, offset slot % BS. A negative slot (padding) writes nothing. An fp8 cache stores k /
// kScale and v / vScale (a checkpoint's per-layer k_scale, v_scale; 1 elsewhere), which attention
// multiplies back.
// Layout: k, v [T, HKV, HD]; kCache, vCache [NB, BS, HKV, HD]; slotMapping [T] i32.
import { forEach, idiv, kernel, pid, type Const, type f32, type Float, type Global } from "../index.ts";

export const kvWrite = kernel({ grid: (k) => [k.dim(0), k.dim(1)], threads: 64 })(
  function kvWrite<A extends Float, C extends Float>(k: Global<A, ["T", "HKV", "HD"]>, v: Global<A, ["T", "HKV", "HD"]>, kCache: Global<C, ["NB", "BS", "HKV", "HD"]>, vCache: Global<C, ["NB", "BS", "HKV", "HD"]>, slotMapping: Global<"i32", ["T"]>, kScale: f32, vScale: f32, BS: Const, HD: Const) {
    const t = pid(0);
    const h = pid(1);
    const slot = slotMapping.at(t);
    if (slot >= 0) {
      const block = idiv(slot, BS);
      const offset = slot % BS;
      forEach(HD, (d) => {
        kCache.put(block, offset, h, d, k.at(t, h, d) / kScale);
        vCache.put(block, offset, h, d, v.at(t, h, d) / vScale);
      });
    }
  },
);
