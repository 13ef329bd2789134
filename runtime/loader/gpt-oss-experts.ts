// GPT-OSS checkpoints (GptOssForCausalLM, transformers' dequantized layout) keep each layer's experts
// as 3-D tensors multiplied from the left (x @ W): mlp.experts.gate_up_proj [experts, hidden,
// 2 x intermediate] with gate and up interleaved along the last dim (gate the even columns, up the
// odd ones), gate_up_proj_bias [experts, 2 x intermediate] likewise, down_proj [experts,
// intermediate, hidden] and down_proj_bias [experts, hidden]. The MoE kernels take one [out, in]
// stack per projection (dsl/kernels/moe.ts), so the loader transposes and de-interleaves them into
// experts.gate / experts.up ([experts x intermediate, hidden]) and experts.down ([experts x hidden,
// intermediate]), with a bias beside each: element copies, any float dtype. OpenAI's own MXFP4
// checkpoints (gate_up_proj_blocks / _scales) carry quant_method "mxfp4", which hf-config.ts refuses.
import { modelFileError, sameArrayType } from "./file-io.ts";
import type { LoadedTensor, ModelConfig } from "./types.ts";

type Elements = LoadedTensor["data"];

/** out[e * columns + c][r] = data[e][r][c * stride + offset]: each expert's [rows, columns * stride] transposed, every stride-th column from offset. */
function transposeExperts(data: Elements, experts: number, rows: number, columns: number, stride: number, offset: number): Elements {
  const out = sameArrayType(data, experts * rows * columns);
  const width = columns * stride;
  for (let e = 0; e < experts; e++) {
    const from = e * rows * width;
    const to = e * columns * rows;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) out[to + c * rows + r] = data[from + r * width + c * stride + offset];
    }
  }
  return out;
}

/** Every stride-th element from offset: one projection's biases out of interleaved ones. */
function everyOther(data: Elements, stride: number, offset: number): Elements {
  const out = sameArrayType(data, data.length / stride);
  for (let i = 0; i < out.length; i++) out[i] = data[i * stride + offset];
  return out;
}

export function splitGptOssExperts(source: string, config: ModelConfig, tensors: Map<string, LoadedTensor>): void {
  if (config.architecture !== "GptOssForCausalLM" || !config.moe) return;
  const { numExperts: E, intermediateSize: I } = config.moe;
  const H = config.hiddenSize;
  const set = (name: string, shape: number[], data: Elements, like: LoadedTensor) => tensors.set(name, { name, dtype: like.dtype, shape, data });
  const take = (name: string, shape: number[]): LoadedTensor => {
    const tensor = tensors.get(name);
    if (!tensor) throw modelFileError(source, `tensor "${name}" is missing (GPT-OSS experts have gate_up_proj, gate_up_proj_bias, down_proj and down_proj_bias)`, name);
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) throw modelFileError(source, `tensor "${name}" is [${tensor.shape}], expected [${shape}] (num_local_experts, hidden_size, intermediate_size)`, name);
    if (tensor.dtype !== "f32" && tensor.dtype !== "f16" && tensor.dtype !== "bf16") throw modelFileError(source, `tensor "${name}" is ${tensor.dtype}; GPT-OSS experts are read as f32, f16 or bf16`, name);
    tensors.delete(name);
    return tensor;
  };
  for (const name of [...tensors.keys()]) {
    const experts = name.match(/^(model\.layers\.\d+\.mlp\.experts)\.gate_up_proj$/)?.[1];
    if (experts === undefined) continue;
    const gateUp = take(`${experts}.gate_up_proj`, [E, H, 2 * I]);
    set(`${experts}.gate.weight`, [E * I, H], transposeExperts(gateUp.data, E, H, I, 2, 0), gateUp);
    set(`${experts}.up.weight`, [E * I, H], transposeExperts(gateUp.data, E, H, I, 2, 1), gateUp);
    const gateUpBias = take(`${experts}.gate_up_proj_bias`, [E, 2 * I]);
    set(`${experts}.gate.bias`, [E * I], everyOther(gateUpBias.data, 2, 0), gateUpBias);
    set(`${experts}.up.bias`, [E * I], everyOther(gateUpBias.data, 2, 1), gateUpBias);
    const down = take(`${experts}.down_proj`, [E, I, H]);
    set(`${experts}.down.weight`, [E * H, I], transposeExperts(down.data, E, I, H, 1, 0), down);
    const downBias = take(`${experts}.down_proj_bias`, [E, H]);
    set(`${experts}.down.bias`, [E * H], downBias.data, downBias);
  }
}
