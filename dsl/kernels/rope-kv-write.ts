// One launch for what follows a fused qkv projection: rotary embedding of q and k and the store of
// k and v into the paged cache, read straight from the projection's rows (the graph pass
// codegen/passes/fuse-qkv-rope.ts). It replaces three column slices, two in-place ropes and a
// kvWrite (elementwise.ts, rope.ts, kv-write.ts): a decode step paid six launches per layer for
// them, and as many passes over q, k and v. Program (t, h): heads h < HQ rotate query head h into
// q; the rest rotate KV head j = h - HQ of k into kCache and copy v's into vCache at token t's slot
// (a negative slot, padding, stores nothing). Dims past the rotary ones (2 * R2 <= HD) are copied.
// NEOX = 1 pairs dims (i, i + R2) as ropeNeox does, NEOX = 0 pairs (2i, 2i + 1) as ropeGptj (vLLM's
// is_neox_style); the rotation is rope.ts's, term for term. The cache stores k / kScale and
// v / vScale (kv-write.ts).
// Layout: qkv [T, (HQ + 2 * HKV) * HD] (q heads, then k heads, then v heads); positions,
// slotMapping [T] i32; invFreq [R2]; q [T, HQ, HD]; kCache, vCache [NB, BS, HKV, HD].
import { cos, f32, forEach, idiv, kernel, pid, sin, type Const, type Float, type Global } from "../index.ts";

export const ropeKvWrite = kernel({ grid: (qkv, positions, invFreq, q, kCache) => [qkv.dim(0), q.dim(1) + kCache.dim(2)], threads: 64 })(
  function ropeKvWrite<A extends Float, C extends Float>(
    qkv: Global<A, ["T", "W"]>, positions: Global<"i32", ["T"]>, invFreq: Global<"f32", ["R2"]>, q: Global<A, ["T", "HQ", "HD"]>,
    kCache: Global<C, ["NB", "BS", "HKV", "HD"]>, vCache: Global<C, ["NB", "BS", "HKV", "HD"]>, slotMapping: Global<"i32", ["T"]>,
    mscale: f32, kScale: f32, vScale: f32, R2: Const, BS: Const, HD: Const, NEOX: Const,
  ) {
    const t = pid(0);
    const h = pid(1);
    const heads = q.dim(1);
    const pos = f32(positions.at(t));
    const slot = slotMapping.at(t);
    const pairStride = NEOX > 0 ? R2 : 1;
    if (h < heads) {
      forEach(R2, (i) => {
        const first = (2 - NEOX) * i;
        const angle = f32(pos * invFreq.at(i));
        const c = cos(angle) * mscale;
        const s = sin(angle) * mscale;
        const a = qkv.at(t, h * HD + first);
        const b = qkv.at(t, h * HD + first + pairStride);
        q.put(t, h, first, a * c - b * s);
        q.put(t, h, first + pairStride, b * c + a * s);
      });
      forEach(HD - 2 * R2, (d) => {
        q.put(t, h, 2 * R2 + d, qkv.at(t, h * HD + 2 * R2 + d));
      });
    } else if (slot >= 0) {
      const j = h - heads;
      const block = idiv(slot, BS);
      const offset = slot % BS;
      const k0 = (heads + j) * HD;
      const v0 = (heads + kCache.dim(2) + j) * HD;
      forEach(R2, (i) => {
        const first = (2 - NEOX) * i;
        const angle = f32(pos * invFreq.at(i));
        const c = cos(angle) * mscale;
        const s = sin(angle) * mscale;
        const a = qkv.at(t, k0 + first);
        const b = qkv.at(t, k0 + first + pairStride);
        kCache.put(block, offset, j, first, (a * c - b * s) / kScale);
        kCache.put(block, offset, j, first + pairStride, (b * c + a * s) / kScale);
      });
      forEach(HD - 2 * R2, (d) => {
        kCache.put(block, offset, j, 2 * R2 + d, qkv.at(t, k0 + 2 * R2 + d) / kScale);
      });
      forEach(HD, (d) => {
        vCache.put(block, offset, j, d, qkv.at(t, v0 + d) / vScale);
      });
    }
  },
);
