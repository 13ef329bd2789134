// fuseQkvRope: after bindPagedKV, a layer whose q, k and v are column slices of one projection,
// q and k roped alike and stored with v straight away (no norm between, as in LLaMA, Mistral,
// Qwen2, Phi-3 and Gemma), gets one ropeKvWrite node in place of its three slices, three views, two
// ropes and the kvWrite (dsl/kernels/rope-kv-write.ts). Its value is the roped q, under the q rope's
// id, so pagedAttention reads it unchanged; the attention is ordered after it instead of the write.
// Layers that normalise q and k first (Qwen3's q_norm/k_norm) keep the separate launches.
import type { Graph, Node } from "../trace/graph.ts";
import { eliminateDeadNodes } from "./fuse-activation-mul.ts";
import { useCounts } from "./uses.ts";

type Of<O extends Node["op"]> = Extract<Node, { op: O }>;

export function fuseQkvRope(g: Graph): Graph {
  const byId = new Map(g.nodes.map((n) => [n.value.id, n]));
  const uses = useCounts(g);
  const only = (id: number) => (uses.get(id) ?? []).length === 1;
  const node = <O extends Node["op"]>(id: number, op: O): Of<O> | undefined => {
    const n = byId.get(id);
    return n && n.op === op && only(id) ? (n as Of<O>) : undefined;
  };
  /** The slice under a value's view, and the view, when each feeds only the next. */
  const sliceOf = (id: number) => {
    const view = node(id, "view");
    const slice = view && node(view.x, "slice");
    return view && slice ? { view, slice } : undefined;
  };
  const replaced = new Map<number, Node>();
  const dropped = new Set<number>();
  const attentionAfter = new Map<number, Of<"pagedAttention">>();
  for (const n of g.nodes) if (n.op === "pagedAttention") attentionAfter.set(n.after, n);
  for (const write of g.nodes) {
    if (write.op !== "kvWrite") continue;
    const attention = attentionAfter.get(write.value.id);
    const qRope = attention && node(attention.q, "rope");
    const kRope = node(write.k, "rope");
    if (!attention || !qRope || !kRope) continue;
    const [q, k, v] = [sliceOf(qRope.x), sliceOf(kRope.x), sliceOf(write.v)];
    if (!q || !k || !v) continue;
    const qkv = byId.get(q.slice.x)!;
    const sameSource = k.slice.x === qkv.value.id && v.slice.x === qkv.value.id;
    const contiguous = q.slice.offset === 0 && k.slice.offset === q.slice.size && v.slice.offset === q.slice.size + k.slice.size && qkv.value.inner.length === 1 && qkv.value.inner[0] === v.slice.offset + v.slice.size;
    const sameRope = kRope.positions === qRope.positions && kRope.layout === qRope.layout && kRope.rotaryDim === qRope.rotaryDim && kRope.ropeKey === qRope.ropeKey;
    if (!sameSource || !contiguous || !sameRope) continue;
    replaced.set(write.value.id, { op: "ropeKvWrite", layer: write.layer, qkv: qkv.value.id, positions: qRope.positions, slotMapping: write.slotMapping, layout: qRope.layout, rotaryDim: qRope.rotaryDim, ropeKey: qRope.ropeKey, value: qRope.value });
    replaced.set(attention.value.id, { ...attention, after: qRope.value.id });
    dropped.add(qRope.value.id);
  }
  const nodes = g.nodes.filter((n) => !dropped.has(n.value.id)).map((n) => replaced.get(n.value.id) ?? n);
  return eliminateDeadNodes({ ...g, nodes });
}
