// A streaming safetensors writer: 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data in header order.
// Tensors are produced chunk by chunk, so multi-gigabyte checkpoints never sit in memory.

import { bytesPerElement, type WeightDType } from "./dtype.ts";

/** Tensor dtypes the writer knows: the weights', i32 for packed quantized values (GPTQ), fp8 e4m3 weights and u8 (MXFP4 blocks and scales). */
export type SafetensorsDType = WeightDType | "i32" | "fp8e4m3" | "u8";
import { FileSink } from "./file-sink.ts";

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  /** Outermost dimension first, as torch reports it. */
  shape: number[];
  /** The tensor's bytes in row-major order, in as many chunks as convenient. */
  chunks(): Iterable<Uint8Array>;
}

const safetensorsDType: Record<SafetensorsDType, string> = { f32: "F32", f16: "F16", bf16: "BF16", i32: "I32", fp8e4m3: "F8_E4M3", u8: "U8" };
const itemBytes: Record<SafetensorsDType, number> = { ...bytesPerElement, i32: 4, fp8e4m3: 1, u8: 1 };

function tensorByteLength(shape: readonly number[], dtype: SafetensorsDType): number {
  return shape.reduce((product, dim) => product * dim, 1) * itemBytes[dtype];
}

export function writeSafetensors(path: string, entries: readonly SafetensorsEntry[]): void {
  // transformers refuses checkpoints whose metadata does not name a known framework.
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const entry of entries) {
    const end = offset + tensorByteLength(entry.shape, entry.dtype);
    header[entry.name] = { dtype: safetensorsDType[entry.dtype], shape: entry.shape, data_offsets: [offset, end] };
    offset = end;
  }
  // Padding the header with spaces to a multiple of 8 keeps every tensor 8-byte aligned, as the
  // reference implementation does.
  let headerText = JSON.stringify(header);
  headerText += " ".repeat((8 - (Buffer.byteLength(headerText) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, "utf8");
  const lengthPrefix = Buffer.alloc(8);
  lengthPrefix.writeBigUInt64LE(BigInt(headerBytes.length));

  const sink = new FileSink(path);
  try {
    sink.write(lengthPrefix);
    sink.write(headerBytes);
    for (const entry of entries) {
      const start = sink.position;
      for (const chunk of entry.chunks()) sink.write(chunk);
      const expected = tensorByteLength(entry.shape, entry.dtype);
      if (sink.position - start !== expected) {
        throw new Error(`${entry.name}: wrote ${sink.position - start} bytes, its shape needs ${expected}`);
      }
    }
  } finally {
    sink.close();
  }
}
