// GGUF container parsing (versions 2 and 3, little-endian): header, metadata key/values and tensor
// infos. Tensor bytes are not read here; gguf.ts reads and converts them. Layout (gguf.md):
//   "GGUF" u32 version, u64 tensor_count, u64 kv_count,
//   kv:     string key, u32 value_type, value      (arrays: u32 element_type, u64 n, elements)
//   tensor: string name, u32 n_dims, u64 ne[n_dims] (ne0 innermost), u32 ggml_type, u64 offset
//   data starts at the next multiple of general.alignment (default 32); offsets are relative to it.
import { modelFileError, readExactly, withModelFile, type ModelFile } from "./file-io.ts";

export type GgufValue = number | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  dims: number[];
  ggmlType: number;
  /** Byte offset relative to the start of the data section. */
  offset: number;
}

export interface GgufHeader {
  path: string;
  fileSize: number;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute file offset of the tensor data section. */
  dataOffset: number;
}

const enum ValueType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
}

// Fixed byte sizes of the scalar value types, used to reject array lengths the file cannot hold.
const scalarSize: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const maxDims = 4;
const defaultAlignment = 32;

/** Thrown when the bytes read so far end before the header does; the caller reads more and retries. */
class NeedMoreBytes extends Error {}

// An f32 in the file stands for the decimal the converter wrote (1e-5, not 9.999999747e-06): use the
// shortest decimal that rounds to the same f32, so configs from GGUF and from config.json agree.
function shortestF32(value: number): number {
  for (let digits = 1; digits < 10; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

class Cursor {
  position = 0;
  /** What is being read, for error messages. */
  field = "magic";
  private readonly view: DataView;
  // Lenient: a vocabulary piece that is not valid UTF-8 should not make the whole model unloadable.
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  constructor(private readonly bytes: Uint8Array, private readonly path: string, private readonly fileSize: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private take(length: number): number {
    const at = this.position;
    if (at + length > this.fileSize) {
      throw modelFileError(this.path, `truncated: ${this.field} needs bytes [${at}, ${at + length}) but the file has ${this.fileSize} bytes`, this.field);
    }
    if (at + length > this.bytes.byteLength) throw new NeedMoreBytes();
    this.position += length;
    return at;
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  // 64-bit counts and offsets become numbers: every value a real file holds is below 2^53.
  u64(): number {
    const value = this.view.getBigUint64(this.take(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw modelFileError(this.path, `${this.field}: value ${value} is out of range`, this.field);
    return Number(value);
  }

  string(): string {
    const length = this.u64();
    const at = this.take(length);
    return this.decoder.decode(this.bytes.subarray(at, at + length));
  }

  /** Fails early on a count that cannot fit in the rest of the file (a corrupt count would allocate forever). */
  count(minBytesEach: number): number {
    const n = this.u64();
    if (n * minBytesEach > this.fileSize - this.position) {
      throw modelFileError(this.path, `${this.field}: count ${n} cannot fit in a file of ${this.fileSize} bytes`, this.field);
    }
    return n;
  }

  value(type: number): GgufValue {
    switch (type) {
      case ValueType.U8: return this.view.getUint8(this.take(1));
      case ValueType.I8: return this.view.getInt8(this.take(1));
      case ValueType.U16: return this.view.getUint16(this.take(2), true);
      case ValueType.I16: return this.view.getInt16(this.take(2), true);
      case ValueType.U32: return this.u32();
      case ValueType.I32: return this.view.getInt32(this.take(4), true);
      case ValueType.F32: return shortestF32(this.view.getFloat32(this.take(4), true));
      case ValueType.Bool: return this.view.getUint8(this.take(1)) !== 0;
      case ValueType.String: return this.string();
      case ValueType.U64: return this.u64();
      case ValueType.I64: return Number(this.view.getBigInt64(this.take(8), true));
      case ValueType.F64: return this.view.getFloat64(this.take(8), true);
      case ValueType.Array: {
        const elementType = this.u32();
        const n = this.count(scalarSize[elementType] ?? 8);
        const items: GgufValue[] = new Array(n);
        for (let i = 0; i < n; i++) items[i] = this.value(elementType);
        return items;
      }
      default:
        throw modelFileError(this.path, `${this.field}: unknown value type ${type}`, this.field);
    }
  }
}

function parseHeader(bytes: Uint8Array, path: string, fileSize: number): GgufHeader {
  const cursor = new Cursor(bytes, path, fileSize);
  const magic = cursor.u32();
  if (magic !== 0x46554747) {
    throw modelFileError(path, `bad magic 0x${magic.toString(16).padStart(8, "0")}: not a GGUF file (expected "GGUF")`, "magic");
  }
  cursor.field = "version";
  const version = cursor.u32();
  if (version !== 2 && version !== 3) {
    throw modelFileError(path, `GGUF version ${version} is not supported (2 or 3; big-endian files are not supported)`, "version");
  }
  cursor.field = "tensor_count";
  const tensorCount = cursor.count(8 + 4 + 4 + 8);
  cursor.field = "metadata_kv_count";
  const kvCount = cursor.count(8 + 4);

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    cursor.field = `metadata key #${i}`;
    const key = cursor.string();
    cursor.field = `metadata "${key}"`;
    metadata.set(key, cursor.value(cursor.u32()));
  }

  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    cursor.field = `tensor info #${i}`;
    const name = cursor.string();
    cursor.field = `tensor "${name}"`;
    const nDims = cursor.u32();
    if (nDims < 1 || nDims > maxDims) throw modelFileError(path, `${cursor.field}: n_dims ${nDims} is not in 1..${maxDims}`, cursor.field);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(cursor.u64());
    const ggmlType = cursor.u32();
    tensors.push({ name, dims, ggmlType, offset: cursor.u64() });
  }

  const alignment = metadata.get("general.alignment") ?? defaultAlignment;
  if (typeof alignment !== "number" || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw modelFileError(path, `general.alignment ${String(alignment)} is not a power of two`, "general.alignment");
  }
  for (const tensor of tensors) {
    if (tensor.offset % alignment !== 0) {
      throw modelFileError(path, `tensor "${tensor.name}" offset ${tensor.offset} is not a multiple of the alignment ${alignment}`, tensor.name);
    }
  }
  const dataOffset = Math.ceil(cursor.position / alignment) * alignment;
  return { path, fileSize, version, metadata, tensors, alignment, dataOffset };
}

// The header's length is only known once it is parsed: read a prefix, and read four times more each
// time the parse runs past it (a 150k-token vocabulary makes headers of several MB).
const firstReadBytes = 1 << 20;

/** Parses the header of an already opened GGUF file. */
export async function readGgufHeaderOf(file: ModelFile): Promise<GgufHeader> {
  for (let length = Math.min(firstReadBytes, file.size); ; length = Math.min(length * 4, file.size)) {
    const bytes = new Uint8Array(length);
    await readExactly(file, 0, bytes, "GGUF header");
    try {
      return parseHeader(bytes, file.path, file.size);
    } catch (error) {
      if (!(error instanceof NeedMoreBytes)) throw error;
    }
  }
}

export function readGgufHeader(path: string): Promise<GgufHeader> {
  return withModelFile(path, readGgufHeaderOf);
}
