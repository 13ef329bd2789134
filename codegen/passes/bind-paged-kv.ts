// bindPagedKV: the model's ctx.kv.attend(layer, q, k, v) becomes the two paged kernels: kvWrite
// stores this step's k/v at their slots, then pagedAttention reads the history through the block
// tables (ordered after the write, which it depends on).
import type { Graph, Node } from "../trace/graph.ts";

export function bindPagedKV(g: Graph): Graph {
  const input = (name: string) => g.nodes.find((n) => n.op === "input" && n.name === name)!.value.id;
  let nextId = Math.max(...g.nodes.map((n) => n.value.id)) + 1;
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (n.op !== "attention") {
      nodes.push(n);
      continue;
    }
    const write: Node = { op: "kvWrite", layer: n.layer, k: n.k, v: n.v, slotMapping: input("slotMapping"), value: { id: nextId++, dtype: "i32", rows: 0, inner: [0] } };
    nodes.push(write, {
      op: "pagedAttention",
      layer: n.layer,
      q: n.q,
      blockTables: input("blockTables"),
      seqIdx: input("seqIdx"),
      positions: input("positions"),
      after: write.value.id,
      scale: n.scale,
      softcap: n.softcap,
      window: n.window,
      sinks: n.sinks,
      value: n.value,
    });
  }
  return { ...g, nodes };
}
