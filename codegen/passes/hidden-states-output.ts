// A pooling model's graph (vLLM's embedding runner): the forward pass returns, for each logits row,
// the final hidden state the LM head would have read (after the final norm), and the LM head and
// what follows it (Gemma-2's logit soft-cap) are not run. The runtime pools and normalizes those
// rows (runtime/engine/pooling.ts).
import { TsvllmError } from "../../runtime/errors.ts";
import { inputsOf, type Graph } from "../trace/graph.ts";

export function hiddenStatesOutput(g: Graph): Graph {
  const byId = new Map(g.nodes.map((n) => [n.value.id, n]));
  const dropped = new Set<number>();
  let head = byId.get(g.output)!;
  while (head.op === "softcap" || head.op === "scale") {
    dropped.add(head.value.id);
    head = byId.get(head.x)!;
  }
  if (head.op !== "linear") throw new TsvllmError("TSVLLM_ERR_COMPILE", `pooling: the model's output %${g.output} does not come from an LM head (a linear), so it has no hidden states to pool`);
  dropped.add(head.value.id);
  // The head's weight and bias go too, unless something else reads them (a tied embedding table).
  const readers = (id: number) => g.nodes.filter((n) => !dropped.has(n.value.id) && inputsOf(n).includes(id));
  const headWeights = [head.weight, head.bias].filter((id): id is number => id !== null && readers(id).length === 0);
  for (const id of headWeights) dropped.add(id);
  const weights = new Map(g.weights);
  for (const id of headWeights) {
    const node = byId.get(id)!;
    if (node.op === "weight") weights.delete(node.name);
  }
  return { ...g, nodes: g.nodes.filter((n) => !dropped.has(n.value.id)), output: head.x, weights };
}
