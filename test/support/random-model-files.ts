// Readers for the files the random model writer makes, for tests: a strict minimal safetensors
// reader of our own, and GGUF tensors located by node-llama-cpp's GGUF parser (an independent
// reading of our GGUF writer's output). Both decode to f32 for comparisons.

import { readFileSync } from "node:fs";
import { GgmlType, readGgufFileInfo } from "node-llama-cpp";
import { f16BitsToF32 } from "../../models/random/dtype.ts";

export interface DecodedTensor {
  dtype: string;
  /** Outermost first for safetensors, innermost first (ggml order) for GGUF. */
  shape: number[];
  values: Float32Array;
}

function decode(bytes: Buffer, dtype: "F32" | "F16" | "BF16"): Float32Array {
  const copy = Uint8Array.from(bytes).buffer;
  if (dtype === "F32") return new Float32Array(copy);
  const halves = new Uint16Array(copy);
  if (dtype === "F16") return Float32Array.from(halves, f16BitsToF32);
  return new Float32Array(Uint32Array.from(halves, (h) => h << 16).buffer);
}

const elementCount = (shape: readonly number[]) => shape.reduce((product, dim) => product * dim, 1);

/** Parses a safetensors file and checks that its byte ranges tile the data section exactly. */
export function readSafetensors(path: string): Map<string, DecodedTensor> {
  const file = readFileSync(path);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.toString("utf8", 8, 8 + headerLength)) as Record<
    string,
    { dtype: "F32" | "F16" | "BF16"; shape: number[]; data_offsets: [number, number] }
  >;
  const data = file.subarray(8 + headerLength);
  const tensors = new Map<string, DecodedTensor>();
  let expectedStart = 0;
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [start, end] = info.data_offsets;
    const bytesPerElement = info.dtype === "F32" ? 4 : 2;
    if (start !== expectedStart || end - start !== elementCount(info.shape) * bytesPerElement) {
      throw new Error(`${path}: ${name} has byte range [${start}, ${end}), expected ${elementCount(info.shape) * bytesPerElement} bytes at ${expectedStart}`);
    }
    expectedStart = end;
    tensors.set(name, { dtype: info.dtype, shape: info.shape, values: decode(data.subarray(start, end), info.dtype) });
  }
  if (expectedStart !== data.length) throw new Error(`${path}: ${data.length - expectedStart} bytes after the last tensor`);
  return tensors;
}

/** Every tensor of a (small) GGUF file, by name. Only F32 and F16 tensors are expected. */
export async function readGgufTensors(path: string): Promise<Map<string, DecodedTensor>> {
  const info = await readGgufFileInfo(path, { logWarnings: false });
  const file = readFileSync(path);
  const tensors = new Map<string, DecodedTensor>();
  for (const tensor of info.tensorInfo ?? []) {
    const shape = tensor.dimensions.map(Number);
    const dtype = tensor.ggmlType === GgmlType.F16 ? "F16" : tensor.ggmlType === GgmlType.F32 ? "F32" : null;
    if (dtype === null) throw new Error(`${path}: ${tensor.name} has ggml type ${tensor.ggmlType}`);
    const start = Number(tensor.fileOffset);
    const bytes = file.subarray(start, start + elementCount(shape) * (dtype === "F32" ? 4 : 2));
    tensors.set(tensor.name, { dtype, shape, values: decode(bytes, dtype) });
  }
  return tensors;
}
