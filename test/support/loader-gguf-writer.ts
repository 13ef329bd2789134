// Writes small GGUF v3 files for loader tests (layout in runtime/loader/gguf-reader.ts), so every
// architecture's names, dtypes and fix-ups can be checked without multi-GB downloads.

export type GgufMetadataValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "strings"; value: string[] }
  | { type: "f32s"; value: number[] }
  | { type: "i32s"; value: number[] }
  | { type: "bools"; value: boolean[] };

export interface GgufTensorSpec {
  name: string;
  /** ggml order, innermost first. */
  dims: number[];
  ggmlType: number;
  data: Uint8Array;
}

export const ggmlType = { f32: 0, f16: 1, q4_0: 2, q8_0: 8, q3_K: 11, q4_K: 12, q6_K: 14, q5_K: 13, iq2_xxs: 16, bf16: 30 } as const;

class ByteWriter {
  private readonly chunks: Uint8Array[] = [];
  length = 0;

  bytes(data: Uint8Array): void {
    this.chunks.push(data);
    this.length += data.byteLength;
  }

  private scalar(size: number, write: (view: DataView) => void): void {
    const data = new Uint8Array(size);
    write(new DataView(data.buffer));
    this.bytes(data);
  }

  u32(value: number): void { this.scalar(4, (v) => v.setUint32(0, value, true)); }
  i32(value: number): void { this.scalar(4, (v) => v.setInt32(0, value, true)); }
  f32(value: number): void { this.scalar(4, (v) => v.setFloat32(0, value, true)); }
  u64(value: number): void { this.scalar(8, (v) => v.setBigUint64(0, BigInt(value), true)); }
  bool(value: boolean): void { this.scalar(1, (v) => v.setUint8(0, value ? 1 : 0)); }

  string(value: string): void {
    const data = new TextEncoder().encode(value);
    this.u64(data.byteLength);
    this.bytes(data);
  }

  padTo(alignment: number): void {
    this.bytes(new Uint8Array((alignment - (this.length % alignment)) % alignment));
  }

  concat(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

const valueTypes = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8 } as const;

function writeValue(out: ByteWriter, entry: GgufMetadataValue): void {
  switch (entry.type) {
    case "u32": out.u32(valueTypes.u32); out.u32(entry.value); break;
    case "i32": out.u32(valueTypes.i32); out.i32(entry.value); break;
    case "f32": out.u32(valueTypes.f32); out.f32(entry.value); break;
    case "bool": out.u32(valueTypes.bool); out.bool(entry.value); break;
    case "string": out.u32(valueTypes.string); out.string(entry.value); break;
    case "strings": out.u32(9); out.u32(valueTypes.string); out.u64(entry.value.length); entry.value.forEach((s) => out.string(s)); break;
    case "f32s": out.u32(9); out.u32(valueTypes.f32); out.u64(entry.value.length); entry.value.forEach((x) => out.f32(x)); break;
    case "i32s": out.u32(9); out.u32(valueTypes.i32); out.u64(entry.value.length); entry.value.forEach((x) => out.i32(x)); break;
    case "bools": out.u32(9); out.u32(valueTypes.bool); out.u64(entry.value.length); entry.value.forEach((x) => out.bool(x)); break;
  }
}

export function ggufBytes(metadata: Record<string, GgufMetadataValue>, tensors: GgufTensorSpec[], alignment = 32): Uint8Array {
  const out = new ByteWriter();
  out.bytes(new TextEncoder().encode("GGUF"));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) {
    out.string(key);
    writeValue(out, value);
  }
  let offset = 0;
  const offsets = tensors.map((tensor) => {
    const at = offset;
    offset += Math.ceil(tensor.data.byteLength / alignment) * alignment;
    return at;
  });
  tensors.forEach((tensor, i) => {
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    tensor.dims.forEach((d) => out.u64(d));
    out.u32(tensor.ggmlType);
    out.u64(offsets[i]);
  });
  out.padTo(alignment);
  for (const tensor of tensors) {
    out.bytes(tensor.data);
    out.padTo(alignment);
  }
  return out.concat();
}

/** Little-endian bytes of f32 values. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
