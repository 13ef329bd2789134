// fuseAddNorm: h = a + b followed by rmsNorm(h) becomes one addRmsNorm that adds b into a's buffer
// (the residual stream) and writes the normalised rows, the pair every pre-norm block runs twice.
// Only when `a` dies at the add, since its buffer is updated in place.
import type { Graph, Node } from "../trace/graph.ts";
import { useCounts } from "./uses.ts";

export function fuseAddNorm(g: Graph): Graph {
  const uses = useCounts(g);
  const byId = new Map(g.nodes.map((n, i) => [n.value.id, i]));
  const nodes: Node[] = g.nodes.slice();
  for (let i = 0; i < nodes.length; i++) {
    const norm = nodes[i];
    if (norm.op !== "rmsNorm") continue;
    const addIndex = byId.get(norm.x)!;
    const add = nodes[addIndex];
    if (add.op !== "add" || add.value.inner.length !== 1) continue;
    const lastUseOfA = Math.max(...(uses.get(add.a) ?? []));
    if (lastUseOfA !== addIndex) continue;
    const fused = { x: add.b, residual: add.a, weight: norm.weight, eps: norm.eps, weightOffset: norm.weightOffset, group: add.value.id };
    nodes[addIndex] = { op: "addRmsNorm", ...fused, part: "residual", value: add.value };
    nodes[i] = { op: "addRmsNorm", ...fused, part: "normed", value: norm.value };
  }
  return { ...g, nodes };
}
