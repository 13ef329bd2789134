// GPT-OSS checkpoints (GptOssForCausalLM, transformers' dequantized layout) keep each layer's experts
// as 3-D tensors multiplied from the left (x @ W): mlp.experts.gate_up_proj [experts, hidden,
// 2 x intermediate] with gate and up interleaved along the last dim (gate the even columns, up the
// odd ones), gate_up_proj_bias [experts, 2 x intermediate] likewise, down_proj [experts,
// intermediate, hidden] and down_proj_bias [experts, hidden]. The MoE kernels take one [out, in]
// stack per projection (dsl/kernels/moe.ts), so the loader transposes and de-interleaves them into
// experts.gate / experts.up ([experts x intermediate, hidden]) and experts.down ([experts x hidden,
// intermediate]), with a bias beside each: element copies, any float dtype.
// OpenAI's own checkpoints (quant_method "mxfp4") hold the two weights as MXFP4 instead (OCP
// microscaling FP4: 32 values share a power-of-two scale): gate_up_proj_blocks [experts,
// 2 x intermediate, hidden / 32, 16] and gate_up_proj_scales [experts, 2 x intermediate, hidden / 32],
// down_proj_blocks / _scales likewise over [experts, hidden, intermediate / 32], already [out, in]
// with gate and up interleaved by rows. Each byte holds two consecutive values, the even one in its
// low nibble; a nibble is an e2m1 code and a value is e2m1(code) * 2^(scale - 127) (transformers'
// convert_moe_packed_tensors): with the e2m1 values doubled, ggml's MXFP4 levels and scale
// 2^(scale - 128), as in GGUF blocks (gguf-quants.ts), which pack the same codes in another order.
// The loader decodes them to bf16, which holds every such value exactly; the MoE kernels run them
// as they run any bf16 experts.
import { modelFileError, sameArrayType } from "./file-io.ts";
import { mxfp4Levels, mxfp4Scale } from "./gguf-quants.ts";
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

let bf16Codes: Uint16Array | undefined;

/** The bf16 bits of code's value under each scale byte, at [scale * 16 + code], built once. */
function mxfp4Bf16Codes(): Uint16Array {
  if (bf16Codes) return bf16Codes;
  const value = new Float32Array(1);
  const bits = new Uint32Array(value.buffer);
  bf16Codes = new Uint16Array(256 * 16);
  for (let scale = 0; scale < 256; scale++) {
    for (let code = 0; code < 16; code++) {
      value[0] = mxfp4Levels[code] * mxfp4Scale(scale);
      bf16Codes[scale * 16 + code] = bits[0] >>> 16;
    }
  }
  return bf16Codes;
}

/**
 * bf16 rows offset, offset + stride, ... of MXFP4 matrices [experts, rows, columns] (blocks
 * [experts, rows, columns / 32, 16], scales [experts, rows, columns / 32]): [experts x rows / stride, columns].
 */
export function decodeMxfp4Rows(blocks: Uint8Array, scales: Uint8Array, experts: number, rows: number, columns: number, stride: number, offset: number): Uint16Array {
  const codes = mxfp4Bf16Codes();
  const groups = columns / 32;
  const kept = rows / stride;
  const out = new Uint16Array(experts * kept * columns);
  for (let e = 0; e < experts; e++) {
    for (let r = 0; r < kept; r++) {
      const row = e * rows + r * stride + offset;
      const to = (e * kept + r) * columns;
      for (let g = 0; g < groups; g++) {
        const base = scales[row * groups + g] * 16;
        const from = (row * groups + g) * 16;
        for (let b = 0; b < 16; b++) {
          const byte = blocks[from + b];
          out[to + g * 32 + 2 * b] = codes[base + (byte & 0x0f)];
          out[to + g * 32 + 2 * b + 1] = codes[base + (byte >> 4)];
        }
      }
    }
  }
  return out;
}

/** An MXFP4 weight's blocks and scales (u8), removed from the tensors, checked against [experts, rows, columns]. */
function takeMxfp4(source: string, tensors: Map<string, LoadedTensor>, name: string, experts: number, rows: number, columns: number): { blocks: Uint8Array; scales: Uint8Array } {
  const part = (suffix: string, shape: number[]): Uint8Array => {
    const tensor = tensors.get(`${name}_${suffix}`);
    if (!tensor) throw modelFileError(source, `tensor "${name}_${suffix}" is missing (an MXFP4 weight has _blocks and _scales)`, `${name}_${suffix}`);
    if (tensor.dtype !== "u8" || tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) throw modelFileError(source, `tensor "${tensor.name}" is ${tensor.dtype} [${tensor.shape}], expected U8 [${shape}]`, tensor.name);
    tensors.delete(tensor.name);
    return tensor.data as Uint8Array;
  };
  return { blocks: part("blocks", [experts, rows, columns / 32, 16]), scales: part("scales", [experts, rows, columns / 32]) };
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
  const decoded = (name: string, shape: number[], data: Uint16Array) => tensors.set(name, { name, dtype: "bf16", shape, data });
  for (const name of [...tensors.keys()]) {
    const [, experts, packed] = name.match(/^(model\.layers\.\d+\.mlp\.experts)\.gate_up_proj(_blocks)?$/) ?? [];
    if (experts === undefined) continue;
    if (packed) {
      const gateUp = takeMxfp4(source, tensors, `${experts}.gate_up_proj`, E, 2 * I, H);
      decoded(`${experts}.gate.weight`, [E * I, H], decodeMxfp4Rows(gateUp.blocks, gateUp.scales, E, 2 * I, H, 2, 0));
      decoded(`${experts}.up.weight`, [E * I, H], decodeMxfp4Rows(gateUp.blocks, gateUp.scales, E, 2 * I, H, 2, 1));
      const down = takeMxfp4(source, tensors, `${experts}.down_proj`, E, H, I);
      decoded(`${experts}.down.weight`, [E * H, I], decodeMxfp4Rows(down.blocks, down.scales, E, H, I, 1, 0));
    } else {
      const gateUp = take(`${experts}.gate_up_proj`, [E, H, 2 * I]);
      set(`${experts}.gate.weight`, [E * I, H], transposeExperts(gateUp.data, E, H, I, 2, 0), gateUp);
      set(`${experts}.up.weight`, [E * I, H], transposeExperts(gateUp.data, E, H, I, 2, 1), gateUp);
      const down = take(`${experts}.down_proj`, [E, I, H]);
      set(`${experts}.down.weight`, [E * H, I], transposeExperts(down.data, E, I, H, 1, 0), down);
    }
    const gateUpBias = take(`${experts}.gate_up_proj_bias`, [E, 2 * I]);
    set(`${experts}.gate.bias`, [E * I], everyOther(gateUpBias.data, 2, 0), gateUpBias);
    set(`${experts}.up.bias`, [E * I], everyOther(gateUpBias.data, 2, 1), gateUpBias);
    const downBias = take(`${experts}.down_proj_bias`, [E, H]);
    set(`${experts}.down.bias`, [E * H], downBias.data, downBias);
  }
}
