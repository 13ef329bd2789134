// GraniteMoE checkpoints (GraniteMoeForCausalLM, IBM Granite 3.x MoE) keep each layer's experts as
// two 3-D tensors, JetMoE's parallel experts: block_sparse_moe.input_linear [experts, 2 x
// intermediate, hidden], each expert's gate rows then its up rows, and output_linear [experts,
// hidden, intermediate]. The MoE kernels take one stack per projection (dsl/kernels/moe.ts), so the
// loader splits input_linear into experts.gate and experts.up ([experts x intermediate, hidden]) and
// renames output_linear to experts.down ([experts x hidden, intermediate]): row copies, any dtype.
import { bytesOf, modelFileError, sameArrayType } from "./file-io.ts";
import type { LoadedTensor, ModelConfig } from "./types.ts";

export function splitGraniteMoeExperts(source: string, config: ModelConfig, tensors: Map<string, LoadedTensor>): void {
  if (config.architecture !== "GraniteMoeForCausalLM" || !config.moe) return;
  const { numExperts: E, intermediateSize: I } = config.moe;
  for (const [name, tensor] of [...tensors]) {
    const block = name.match(/^(model\.layers\.\d+\.block_sparse_moe)\.(input_linear|output_linear)\.weight$/)?.[1];
    if (block === undefined) continue;
    tensors.delete(name);
    const [experts, rows, columns] = tensor.shape;
    if (name.endsWith("output_linear.weight")) {
      tensors.set(`${block}.experts.down.weight`, { ...tensor, name: `${block}.experts.down.weight`, shape: [experts * rows, columns] });
      continue;
    }
    if (tensor.shape.length !== 3 || experts !== E || rows !== 2 * I) throw modelFileError(source, `tensor "${name}" is [${tensor.shape}], expected [${E}, ${2 * I}, hidden] (num_local_experts, 2 x intermediate_size)`, name);
    const bytes = bytesOf(tensor.data);
    const rowBytes = bytes.length / (experts * rows);
    for (const [part, first] of [["gate", 0], ["up", I]] as const) {
      const data = sameArrayType(tensor.data, (E * I * rowBytes) / tensor.data.BYTES_PER_ELEMENT);
      const out = bytesOf(data);
      for (let e = 0; e < E; e++) out.set(bytes.subarray((e * rows + first) * rowBytes, (e * rows + first + I) * rowBytes), e * I * rowBytes);
      const partName = `${block}.experts.${part}.weight`;
      tensors.set(partName, { name: partName, dtype: tensor.dtype, shape: [E * I, columns], data });
    }
  }
}
