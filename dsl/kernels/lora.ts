// Multi-LoRA over a batch whose tokens use different adapters (the BGMV form of Punica, Chen et al.
// 2023): each token reads the adapter in its slot (slots[t]; -1: none) out of tables that hold
// every slot's A and B. A linear's delta is out += x A^T B^T, in two launches:
//   shrink: u[t, j] = sum_k x[t, k] * a[s, j, k]            a [slots, slices * R, K]
//   expand: out[t, n] += sum_r u[t, p R + r] * b[s, n, r]    b [slots, N, R]
// where p is the slice of a fused linear (q, k, v or gate, up) output row n belongs to: each
// slice has its own A and B, as the adapter trained them on the unfused modules. Slices start at
// rows 0, S1, S2 (S1 = S2 = N for one slice). The adapter's scaling is folded into B when loaded.
// Ranks below R are zero-padded, so one compiled forward serves any rank up to max_lora_rank.
import { kernel, pid, reduceSum, type Const, type Float, type Global } from "../index.ts";

export const loraShrink = kernel({ grid: (x, slots, a) => [x.dim(0), a.dim(1)], work: (x, slots, a) => [x.dim(0), a.dim(1), a.dim(2)], threads: 128 })(
  function loraShrink<A extends Float>(x: Global<A, ["T", "K"]>, slots: Global<"i32", ["T"]>, a: Global<"f32", ["S", "J", "K"]>, u: Global<"f32", ["T", "J"]>, K: Const) {
    const t = pid(0);
    const j = pid(1);
    const s = slots.at(t);
    if (s >= 0) {
      u.put(t, j, reduceSum(K, (k) => x.at(t, k) * a.at(s, j, k)));
    } else {
      u.put(t, j, 0.0);
    }
  },
);

export const loraExpand = kernel({ grid: (u, slots, b) => [u.dim(0), b.dim(1)], work: (u, slots, b) => [u.dim(0), b.dim(1), b.dim(2)], threads: 32 })(
  function loraExpand<A extends Float>(u: Global<"f32", ["T", "J"]>, slots: Global<"i32", ["T"]>, b: Global<"f32", ["S", "N", "R"]>, out: Global<A, ["T", "N"]>, R: Const, S1: Const, S2: Const) {
    const t = pid(0);
    const n = pid(1);
    const s = slots.at(t);
    if (s >= 0) {
      const first = n >= S2 ? 2 * R : n >= S1 ? R : 0;
      out.put(t, n, out.at(t, n) + reduceSum(R, (r) => u.at(t, first + r) * b.at(s, n, r)));
    }
  },
);
