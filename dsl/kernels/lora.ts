// Multi-LoRA over a batch whose tokens use different adapters (the BGMV form of Punica, Chen et al.
// 2023): each token reads the adapter in its slot (slots[t]; -1: none) out of tables that hold
// every slot's A and B, transposed so that both products are dotTile's broadcast form (the GEMV
// micro-kernel, vectors along the table's rows). A linear's delta is out += x A^T B^T, in two launches:
//   shrink: u[t, j] = sum_k x[t, k] * a[s, k, j]            a [slots, K, J = slices * R]
//   expand: out[t, n] += sum_r u[t, p R + r] * b[s, r, n]    b [slots, R, N]
// where p is the slice of a fused linear (q, k, v or gate, up) output n belongs to: each slice
// has its own A and B, as the adapter trained them on the unfused modules. Slices start at rows
// 0, S1, S2 (S1 = S2 = N for one slice) and are whole NC-column chunks. The adapter's scaling is
// folded into B when loaded; ranks below R are zero-padded, so one compiled forward serves any rank
// up to max_lora_rank. The tables are in L, the model's weight dtype (a 16-bit model's halve the
// bytes a decode step reads); the products accumulate in f32. One program per token: a token's
// slot tables are read once for it.
import { dotTile, forEach, kernel, pid, scratch, type Const, type Float, type Global } from "../index.ts";

export const loraShrink = kernel({ grid: (x) => [x.dim(0)], work: (x, slots, a) => [x.dim(0), a.dim(1), a.dim(2)], threads: 128 })(
  function loraShrink<A extends Float, L extends Float>(x: Global<A, ["T", "K"]>, slots: Global<"i32", ["T"]>, a: Global<L, ["S", "K", "J"]>, u: Global<"f32", ["T", "J"]>, K: Const, J: Const) {
    const t = pid(0);
    const s = slots.at(t);
    const acc = scratch(J);
    forEach(J, (j) => {
      acc.put(j, 0.0);
    });
    if (s >= 0) {
      dotTile(acc, 0, 1, J, K, (i, k) => x.at(t, k), (j, k) => a.at(s, k, j));
    }
    forEach(J, (j) => {
      u.put(t, j, acc.at(j));
    });
  },
);

export const loraExpand = kernel({ grid: (u) => [u.dim(0)], work: (u, slots, b) => [u.dim(0), b.dim(1), b.dim(2)], threads: 128 })(
  function loraExpand<A extends Float, L extends Float>(u: Global<"f32", ["T", "J"]>, slots: Global<"i32", ["T"]>, b: Global<L, ["S", "R", "N"]>, out: Global<A, ["T", "N"]>, R: Const, S1: Const, S2: Const, NC: Const) {
    const t = pid(0);
    const s = slots.at(t);
    const acc = scratch(NC);
    if (s >= 0) {
      for (let n0 = 0; n0 < out.dim(1); n0 += NC) {
        const first = n0 >= S2 ? 2 * R : n0 >= S1 ? R : 0;
        forEach(NC, (j) => {
          acc.put(j, 0.0);
        });
        dotTile(acc, 0, 1, NC, R, (i, k) => u.at(t, first + k), (j, k) => b.at(s, k, n0 + j));
        forEach(NC, (j) => {
          out.put(t, n0 + j, out.at(t, n0 + j) + acc.at(j));
        });
      }
    }
  },
);
