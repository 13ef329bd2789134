// GGUF file -> LoadedModel: tensors under HF names in HF layout. GGUF stores dims innermost first
// (ne0 = in), so shapes are reversed; memory order is already torch's [out][in]. Three converter
// transforms are undone so the tensors equal the HF checkpoint's:
//   - llama, granite, smollm3: convert_hf_to_gguf permutes q/k rows per head for adjacent-pair RoPE (HF rotates halves);
//   - gemma/gemma2/gemma3: the converter stores norm weights as 1 + w (HF's GemmaRMSNorm adds the 1
//     itself), Gemma-3's per-head q/k norms too;
//   - an output.weight identical to token_embd.weight is a tied embedding, not a second matrix.
import { tensorToF32 } from "./convert.ts";
import { bytesOf, modelFileError, readOrMapTensor, sameArrayType, withModelFile, type ModelFile } from "./file-io.ts";
import { ggufArchitecture, ggufModelConfig, type RopeTensors } from "./gguf-config.ts";
import { hfTensorName } from "./gguf-names.ts";
import { iq4_nl, iq4_xs, mxfp4, q2_K, q3_K, q4_0, q4_1, q4_K, q5_0, q5_1, q5_K, q6_K, q8_0, type BlockFormat } from "./gguf-quants.ts";
import { readGgufHeaderOf, type GgufHeader, type GgufTensorInfo } from "./gguf-reader.ts";
import type { BlockDType, LoadedModel, LoadedTensor, PackedDType, TensorDType, TensorMemory } from "./types.ts";

type TensorData = LoadedTensor["data"];

interface GgmlType {
  name: string;
  /** Scalar types: bytes per value; block types: the block format. */
  storage: number | BlockFormat;
  dtype: TensorDType;
}

const ggmlTypes: Record<number, GgmlType> = {
  0: { name: "F32", storage: 4, dtype: "f32" },
  1: { name: "F16", storage: 2, dtype: "f16" },
  2: { name: "Q4_0", storage: q4_0, dtype: "q4_0" },
  3: { name: "Q4_1", storage: q4_1, dtype: "q4_1" },
  6: { name: "Q5_0", storage: q5_0, dtype: "q5_0" },
  7: { name: "Q5_1", storage: q5_1, dtype: "q5_1" },
  8: { name: "Q8_0", storage: q8_0, dtype: "q8_0" },
  10: { name: "Q2_K", storage: q2_K, dtype: "q2_K" },
  11: { name: "Q3_K", storage: q3_K, dtype: "q3_K" },
  12: { name: "Q4_K", storage: q4_K, dtype: "q4_K" },
  13: { name: "Q5_K", storage: q5_K, dtype: "q5_K" },
  14: { name: "Q6_K", storage: q6_K, dtype: "q6_K" },
  20: { name: "IQ4_NL", storage: iq4_nl, dtype: "iq4_nl" },
  23: { name: "IQ4_XS", storage: iq4_xs, dtype: "iq4_xs" },
  30: { name: "BF16", storage: 2, dtype: "bf16" },
  39: { name: "MXFP4", storage: mxfp4, dtype: "mxfp4" },
};

/** Whether the loaded dtype is one of GGML's block formats (which stay in their blocks). */
const isBlockDType = (dtype: TensorDType): dtype is BlockDType => Object.values(ggmlTypes).some((t) => t.dtype === dtype && typeof t.storage !== "number");

function tensorBytes(info: GgufTensorInfo, type: GgmlType, file: string): number {
  const count = info.dims.reduce((a, b) => a * b, 1);
  if (typeof type.storage === "number") return count * type.storage;
  const { valuesPerBlock, bytesPerBlock } = type.storage;
  if (info.dims[0] % valuesPerBlock !== 0) {
    throw modelFileError(file, `tensor "${info.name}" row length ${info.dims[0]} is not a multiple of the ${type.name} block size ${valuesPerBlock}`, info.name);
  }
  return (count / valuesPerBlock) * bytesPerBlock;
}

async function readTensorData(file: ModelFile, header: GgufHeader, info: GgufTensorInfo, memory: TensorMemory): Promise<{ dtype: TensorDType; data: TensorData }> {
  const type = ggmlTypes[info.ggmlType];
  if (!type) {
    const supported = Object.values(ggmlTypes).map((t) => t.name).join(", ");
    throw modelFileError(file.path, `tensor "${info.name}" has ggml type ${info.ggmlType}, which tsvllm does not load (${supported})`, info.name);
  }
  const byteLength = tensorBytes(info, type, file.path);
  const begin = header.dataOffset + info.offset;
  if (begin + byteLength > file.size) {
    throw modelFileError(file.path, `tensor "${info.name}" data [${begin}, ${begin + byteLength}) exceeds file size ${file.size}`, info.name);
  }
  const elements = typeof type.storage === "number" ? byteLength / type.storage : byteLength;
  const buffer = await readOrMapTensor(file, begin, byteLength, typeof type.storage === "number" ? type.storage : 1, memory, `tensor "${info.name}"`);
  const data = type.dtype === "f32" ? new Float32Array(buffer, 0, elements)
    : type.dtype === "f16" || type.dtype === "bf16" ? new Uint16Array(buffer, 0, elements)
    : new Uint8Array(buffer, 0, elements);
  return { dtype: type.dtype, data };
}

/**
 * Undoes convert_hf_to_gguf's `permute` on the rows of a q/k weight or bias: within each head, GGUF
 * row 2*i + j is HF row j*(headDim/2) + i. Rows are whole (quantized blocks run along `in`), so this
 * moves raw bytes and works for every dtype.
 */
export function unpermuteRows(data: TensorData, rows: number, numHeads: number): TensorData {
  const stride = data.length / rows;
  const headDim = rows / numHeads;
  const half = headDim / 2;
  const out = sameArrayType(data, data.length);
  for (let head = 0; head < numHeads; head++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = head * headDim + 2 * i + j;
        const to = head * headDim + j * half + i;
        out.set(data.subarray(from * stride, (from + 1) * stride), to * stride);
      }
    }
  }
  return out;
}

function sameBytes(a: LoadedTensor, b: LoadedTensor): boolean {
  return a.dtype === b.dtype && Buffer.compare(bytesOf(a.data), bytesOf(b.data)) === 0;
}

function metadataCount(header: GgufHeader, key: string): number {
  const value = header.metadata.get(key);
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw modelFileError(header.path, `field "${key}" should be a positive integer, found ${JSON.stringify(value)}`, key);
  }
  return value;
}

function undoConverterTransforms(header: GgufHeader, arch: string, tensors: Map<string, LoadedTensor>): void {
  const heads = metadataCount(header, `${arch}.attention.head_count`);
  const kvKey = `${arch}.attention.head_count_kv`;
  const kvHeads = header.metadata.has(kvKey) ? metadataCount(header, kvKey) : heads;
  for (const tensor of tensors.values()) {
    if (permutedForRope.has(arch)) {
      const numHeads = /\.q_proj\./.test(tensor.name) ? heads : /\.k_proj\./.test(tensor.name) ? kvHeads : 0;
      if (numHeads > 0) {
        if (tensor.shape[0] % (2 * numHeads) !== 0) {
          throw modelFileError(header.path, `tensor "${tensor.name}" has ${tensor.shape[0]} rows, not a multiple of 2 x ${numHeads} heads`, tensor.name);
        }
        tensor.data = unpermuteRows(tensor.data, tensor.shape[0], numHeads);
      }
    }
    // Qwen2-MoE's shared_expert_gate is HF's Linear(hidden, 1), [1, hidden]. Today's converter keeps that
    // (ne [hidden, 1]); older ones squeezed it to 1-D (ne [hidden]), which llama.cpp accepts too.
    if (tensor.shape.length === 1 && tensor.name.endsWith(".mlp.shared_expert_gate.weight")) tensor.shape = [1, tensor.shape[0]];
    if (gemmaNorm(arch, tensor.name)) {
      const values = Float32Array.from(tensorToF32(tensor), (value) => value - 1);
      tensor.dtype = "f32";
      tensor.data = values;
    }
  }
  const output = tensors.get("lm_head.weight");
  const embedding = tensors.get("model.embed_tokens.weight");
  if (output && embedding && sameBytes(output, embedding)) tensors.delete("lm_head.weight");
}

/** The architectures llama.cpp rotates in adjacent pairs, whose converter (LlamaModel's) permutes q/k rows. */
const permutedForRope = new Set(["llama", "granite", "granitemoe", "smollm3"]);

const gemmaArchitectures = new Set(["gemma", "gemma2", "gemma3"]);

function gemmaNorm(arch: string, name: string): boolean {
  return gemmaArchitectures.has(arch) && /(layernorm|model\.norm|self_attn\.[qk]_norm)\.weight$/.test(name);
}

/** The RoPE scaling llama.cpp keeps as tensors: Llama-3's divisors, Phi-3's LongRoPE factors. */
const ropeTensorNames: Readonly<Record<string, keyof RopeTensors>> = {
  "rope_freqs.weight": "freqs",
  "rope_factors_long.weight": "longFactors",
  "rope_factors_short.weight": "shortFactors",
};

/** Loads a .gguf file: config from its metadata, tensors renamed and re-laid-out as in the HF checkpoint. */
export function loadGguf(path: string, memory: TensorMemory = {}): Promise<LoadedModel> {
  return withModelFile(path, async (file) => {
    const header = await readGgufHeaderOf(file);
    const arch = ggufArchitecture(header);
    const tensors = new Map<string, LoadedTensor>();
    const ropeTensors: RopeTensors = {};
    for (const info of header.tensors) {
      const { dtype, data } = await readTensorData(file, header, info, memory);
      const ropeTensor = ropeTensorNames[info.name];
      if (ropeTensor) {
        ropeTensors[ropeTensor] = tensorToF32({ name: info.name, dtype, shape: info.dims, data });
        continue;
      }
      const name = hfTensorName(info.name, arch);
      if (!name) throw modelFileError(path, `tensor "${info.name}" has no Hugging Face counterpart for architecture ${arch}`, info.name);
      tensors.set(name, { name, dtype, shape: [...info.dims].reverse(), data });
    }
    undoConverterTransforms(header, arch, tensors);
    const { config, generationConfig } = ggufModelConfig(header, tensors, ropeTensors);
    // The GPU plan's block matmuls take matrices only: MoE expert stacks ([experts, out, in]) in
    // blocks are widened there. The CPU plan reads both as quantized panels.
    const packed = [...tensors.values()].filter((t) => (t.dtype === "q8_0" || t.dtype === "q4_0") && t.shape.length === 2);
    if (packed.length > 0) config.packedWeights = Object.fromEntries(packed.map((t) => [t.name, t.dtype as PackedDType]));
    const blocks = [...tensors.values()].filter((t) => isBlockDType(t.dtype));
    if (blocks.length > 0) config.blockWeights = Object.fromEntries(blocks.map((t) => [t.name, t.dtype as BlockDType]));
    return { source: path, format: "gguf", config, generationConfig, tensors };
  });
}
