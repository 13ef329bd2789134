// fuseSiluMul (and its GELU twin): act(gate) * up, where gate and up are the two halves of one
// gate_up projection, becomes one siluMul/geluTanhMul kernel reading the fused projection directly.
import { inputsOf, type Graph, type Node } from "../trace/graph.ts";

export function fuseActivationMul(g: Graph): Graph {
  const byId = new Map(g.nodes.map((n) => [n.value.id, n]));
  const nodes = g.nodes.map((n): Node => {
    if (n.op !== "mul") return n;
    const act = byId.get(n.a);
    const up = byId.get(n.b);
    if (!act || (act.op !== "silu" && act.op !== "geluTanh") || !up || up.op !== "slice") return n;
    const gate = byId.get(act.x);
    if (!gate || gate.op !== "slice" || gate.x !== up.x || gate.offset !== 0 || up.offset !== gate.size || up.size !== gate.size) return n;
    const source = byId.get(gate.x)!;
    if (source.value.inner.length !== 1 || source.value.inner[0] !== 2 * gate.size) return n;
    return { op: act.op === "silu" ? "siluMul" : "geluTanhMul", gateUp: gate.x, value: n.value };
  });
  return eliminateDeadNodes({ ...g, nodes });
}

/** Drops nodes whose values nothing uses (the slices and activations a fusion replaced). */
export function eliminateDeadNodes(g: Graph): Graph {
  const live = new Set<number>([g.output]);
  const keep = new Array<boolean>(g.nodes.length).fill(false);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    const sideEffect = n.op === "input" || n.op === "kvWrite" || n.op === "ropeKvWrite";
    if (!sideEffect && !live.has(n.value.id)) continue;
    keep[i] = true;
    for (const v of inputsOf(n)) live.add(v);
  }
  return { ...g, nodes: g.nodes.filter((_, i) => keep[i]) };
}
