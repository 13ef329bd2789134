// The graph pass order, in one place (MLC-style). Each pass is a pure Graph -> Graph function.
import { dump } from "../build/dump.ts";
import { printGraph, type Graph } from "../trace/graph.ts";
import { bindPagedKV } from "./bind-paged-kv.ts";
import { fuseActivationMul } from "./fuse-activation-mul.ts";
import { fuseAddNorm } from "./fuse-add-norm.ts";
import { fuseQkvRope } from "./fuse-qkv-rope.ts";

export const graphPasses: { name: string; run: (g: Graph) => Graph }[] = [
  { name: "fuseAddNorm", run: fuseAddNorm },
  { name: "fuseActivationMul", run: fuseActivationMul },
  { name: "bindPagedKV", run: bindPagedKV },
  { name: "fuseQkvRope", run: fuseQkvRope },
];

export function runGraphPasses(g: Graph): Graph {
  dump("graph", "traced", printGraph(g));
  return graphPasses.reduce((acc, pass) => {
    const next = pass.run(acc);
    dump("passes", pass.name, printGraph(next));
    return next;
  }, g);
}
