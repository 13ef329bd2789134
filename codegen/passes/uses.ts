// Use lists over a graph, shared by the passes that need to know whether a value dies.
import { inputsOf, type Graph } from "../trace/graph.ts";

export function useCounts(g: Graph): Map<number, number[]> {
  const uses = new Map<number, number[]>();
  g.nodes.forEach((n, index) => {
    for (const i of inputsOf(n)) {
      const list = uses.get(i) ?? [];
      list.push(index);
      uses.set(i, list);
    }
  });
  const out = uses.get(g.output) ?? [];
  out.push(g.nodes.length);
  uses.set(g.output, out);
  return uses;
}
