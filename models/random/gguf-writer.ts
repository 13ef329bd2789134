// A streaming GGUF v3 writer (the layout of ggml's gguf.cpp and gguf-py's GGUFWriter):
//   magic "GGUF", version 3, tensor count (u64), metadata count (u64),
//   metadata: key (u64 length + UTF-8), value type (u32), value (arrays: item type, u64 count, items),
//   tensor infos: name, n_dims (u32), dims innermost first (u64 each), ggml type (u32),
//                 offset from the start of the data section (u64, a multiple of the alignment),
//   zero padding to the alignment, then each tensor's data padded to the alignment.
// Everything little-endian. Tensor data is streamed chunk by chunk.

import { iq4_nl, iq4_xs, mxfp4, q2_K, q3_K, q4_0, q4_1, q4_K, q5_0, q5_1, q5_K, q8_0, type BlockFormat } from "../../runtime/loader/gguf-quants.ts";
import { FileSink } from "./file-sink.ts";
import { ggufTypeId, type GgufMetadata, type GgufScalarType, type GgufValue } from "./gguf-values.ts";

/** The ggml tensor types these models use (ids from ggml's ggml_type): floats, and blocks. */
export type GgmlType = "F32" | "F16" | "Q8_0" | "Q4_0" | "Q4_1" | "Q5_0" | "Q5_1" | "Q2_K" | "Q3_K" | "Q4_K" | "Q5_K" | "IQ4_NL" | "IQ4_XS" | "MXFP4";
const ggmlTypeId: Record<GgmlType, number> = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, IQ4_NL: 20, IQ4_XS: 23, MXFP4: 39 };
const blockSize = (format: BlockFormat) => ({ bytes: format.bytesPerBlock, valuesPerUnit: format.valuesPerBlock });
/** Bytes per `valuesPerUnit` values. */
const ggmlTypeSize: Record<GgmlType, { bytes: number; valuesPerUnit: number }> = { F32: { bytes: 4, valuesPerUnit: 1 }, F16: { bytes: 2, valuesPerUnit: 1 }, Q8_0: blockSize(q8_0), Q4_0: blockSize(q4_0), Q4_1: blockSize(q4_1), Q5_0: blockSize(q5_0), Q5_1: blockSize(q5_1), Q2_K: blockSize(q2_K), Q3_K: blockSize(q3_K), Q4_K: blockSize(q4_K), Q5_K: blockSize(q5_K), IQ4_NL: blockSize(iq4_nl), IQ4_XS: blockSize(iq4_xs), MXFP4: blockSize(mxfp4) };

/** llama.cpp's default, used when the file has no general.alignment key. */
const alignment = 32;

export interface GgufTensorEntry {
  name: string;
  type: GgmlType;
  /** ggml order: ne0 (the contiguous, innermost dimension) first, so a [out, in] matrix is [in, out]. */
  dims: number[];
  chunks(): Iterable<Uint8Array>;
}

/** Builds the header in memory; it is small next to the tensor data. */
class HeaderBuilder {
  private readonly parts: Buffer[] = [];
  length = 0;

  private push(part: Buffer): void {
    this.parts.push(part);
    this.length += part.length;
  }
  u32(value: number): void {
    const part = Buffer.alloc(4);
    part.writeUInt32LE(value);
    this.push(part);
  }
  u64(value: number): void {
    const part = Buffer.alloc(8);
    part.writeBigUInt64LE(BigInt(value));
    this.push(part);
  }
  string(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.u64(bytes.length);
    this.push(bytes);
  }
  scalar(type: GgufScalarType, value: number | boolean | string): void {
    const part = Buffer.alloc(4);
    switch (type) {
      case "string":
        return this.string(value as string);
      case "bool":
        return this.push(Buffer.from([value ? 1 : 0]));
      case "uint32":
        part.writeUInt32LE(value as number);
        break;
      case "int32":
        part.writeInt32LE(value as number);
        break;
      case "float32":
        part.writeFloatLE(value as number);
        break;
    }
    this.push(part);
  }
  value(value: GgufValue): void {
    this.u32(ggufTypeId[value.type]);
    if (value.type !== "array") return this.scalar(value.type, value.value);
    this.u32(ggufTypeId[value.itemType]);
    this.u64(value.value.length);
    for (let i = 0; i < value.value.length; i++) this.scalar(value.itemType, value.value[i]);
  }
  padTo(multiple: number): void {
    this.push(Buffer.alloc((multiple - (this.length % multiple)) % multiple));
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function tensorByteLength(entry: GgufTensorEntry): number {
  const { bytes, valuesPerUnit } = ggmlTypeSize[entry.type];
  return (entry.dims.reduce((product, dim) => product * dim, 1) / valuesPerUnit) * bytes;
}

const alignUp = (n: number) => Math.ceil(n / alignment) * alignment;

export function writeGguf(path: string, metadata: GgufMetadata, tensors: readonly GgufTensorEntry[]): void {
  const header = new HeaderBuilder();
  header.u32(0x46554747); // "GGUF" read as a little-endian u32
  header.u32(3);
  header.u64(tensors.length);
  header.u64(metadata.size);
  for (const [key, value] of metadata) {
    header.string(key);
    header.value(value);
  }
  let offset = 0;
  for (const tensor of tensors) {
    header.string(tensor.name);
    header.u32(tensor.dims.length);
    for (const dim of tensor.dims) header.u64(dim);
    header.u32(ggmlTypeId[tensor.type]);
    header.u64(offset);
    offset = alignUp(offset + tensorByteLength(tensor));
  }
  header.padTo(alignment);

  const sink = new FileSink(path);
  try {
    sink.write(header.bytes());
    const dataStart = sink.position;
    for (const tensor of tensors) {
      const start = sink.position;
      for (const chunk of tensor.chunks()) sink.write(chunk);
      if (sink.position - start !== tensorByteLength(tensor)) {
        throw new Error(`${tensor.name}: wrote ${sink.position - start} bytes, its dims need ${tensorByteLength(tensor)}`);
      }
      sink.write(new Uint8Array(alignUp(sink.position - dataStart) - (sink.position - dataStart)));
    }
  } finally {
    sink.close();
  }
}
