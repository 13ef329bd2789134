// safetensors reading, single file or sharded (model.safetensors.index.json). Format:
//   u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
//   "__metadata__"?: {...}}, then the data; offsets are relative to the end of the header.
// The whole header is validated before any tensor is read, so a corrupt file fails fast and by name.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { modelFileError, readExactly, readJsonFile, readOrMapTensor, withModelFile, type ModelFile } from "./file-io.ts";
import type { LoadedTensor, TensorDType, TensorMemory } from "./types.ts";

const itemSizes: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

// U8: MXFP4 blocks and scales (GPT-OSS's experts), decoded by the loader (gpt-oss-experts.ts).
const loadable: Record<string, TensorDType> = { F32: "f32", F16: "f16", BF16: "bf16", I32: "i32", F8_E4M3: "fp8e4m3", U8: "u8" };

// The reference implementation refuses headers over 100 MB; a larger length is a corrupt file.
const maxHeaderBytes = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

function isIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** Validates a parsed header against the file size and returns its tensors. */
export function validateSafetensorsHeader(header: unknown, headerLength: number, fileSize: number, file: string): SafetensorsEntry[] {
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw modelFileError(file, "header is not a JSON object", "header");
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") continue;
    const where = `tensor "${name}"`;
    if (typeof info !== "object" || info === null) throw modelFileError(file, `${where} is not an object`, name);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof dtype !== "string" || !(dtype in itemSizes)) throw modelFileError(file, `${where} dtype ${JSON.stringify(dtype)} is unknown`, name);
    if (!Array.isArray(shape) || !shape.every(isIndex)) throw modelFileError(file, `${where} shape ${JSON.stringify(shape)} is not a list of sizes`, name);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
      throw modelFileError(file, `${where} data_offsets ${JSON.stringify(offsets)} is not [begin, end]`, name);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      throw modelFileError(file, `${where} data_offsets [${begin},${end}] exceed file size ${fileSize} (data section holds ${dataSize} bytes)`, name);
    }
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * itemSizes[dtype];
    if (end - begin !== expected) {
      throw modelFileError(file, `${where} data_offsets [${begin},${end}] hold ${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expected}`, name);
    }
    entries.push({ name, dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end });
  }
  return entries;
}

/** The header's length from the file's first 8 bytes, checked against the file's size. */
function headerLengthOf(lengthBytes: Uint8Array, fileSize: number, path: string): number {
  const headerLength = Number(new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > maxHeaderBytes || 8 + headerLength > fileSize) throw modelFileError(path, `header length ${headerLength} exceeds file size ${fileSize}`, "header");
  return headerLength;
}

function entriesOf(headerBytes: Uint8Array, fileSize: number, path: string): SafetensorsEntry[] {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes));
  } catch (error) {
    throw modelFileError(path, `header is not valid UTF-8 JSON (${(error as Error).message})`, "header");
  }
  return validateSafetensorsHeader(header, headerBytes.length, fileSize, path);
}

async function readEntries(file: ModelFile): Promise<SafetensorsEntry[]> {
  const lengthBytes = new Uint8Array(8);
  if (file.size < 8) throw modelFileError(file.path, `file size ${file.size} is smaller than the 8-byte header length`, "header");
  await readExactly(file, 0, lengthBytes, "header length");
  const headerBytes = new Uint8Array(headerLengthOf(lengthBytes, file.size, file.path));
  await readExactly(file, 8, headerBytes, "header");
  return entriesOf(headerBytes, file.size, file.path);
}

/**
 * Reads a small .safetensors file whole, synchronously (a LoRA adapter, reloaded when a request
 * needs it): the same checks as loadSafetensorsFile, each tensor copied into its own typed array.
 */
export function readSafetensorsFileSync(path: string): Map<string, LoadedTensor> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw modelFileError(path, `cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  if (bytes.length < 8) throw modelFileError(path, `file size ${bytes.length} is smaller than the 8-byte header length`, "header");
  const headerLength = headerLengthOf(bytes.subarray(0, 8), bytes.length, path);
  const tensors = new Map<string, LoadedTensor>();
  for (const entry of entriesOf(bytes.subarray(8, 8 + headerLength), bytes.length, path)) {
    loadableDType(entry, path);
    tensors.set(entry.name, tensorOver(entry, Uint8Array.prototype.slice.call(bytes, entry.begin, entry.end).buffer));
  }
  return tensors;
}

/** The dtype tsvllm loads the entry as; throws naming the tensor for one it does not. */
function loadableDType(entry: SafetensorsEntry, path: string): TensorDType {
  const dtype = loadable[entry.dtype];
  if (!dtype) throw modelFileError(path, `tensor "${entry.name}" has dtype ${entry.dtype}; tsvllm loads F32, F16, BF16, I32, F8_E4M3 and U8`, entry.name);
  return dtype;
}

/** The tensor viewing the start of buffer, which holds its bytes (its dtype already checked loadable). */
function tensorOver(entry: SafetensorsEntry, buffer: ArrayBuffer): LoadedTensor {
  const dtype = loadable[entry.dtype];
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const data = dtype === "f32" ? new Float32Array(buffer, 0, count) : dtype === "i32" ? new Int32Array(buffer, 0, count) : dtype === "fp8e4m3" || dtype === "u8" ? new Uint8Array(buffer, 0, count) : new Uint16Array(buffer, 0, count);
  return { name: entry.name, dtype, shape: entry.shape, data };
}

async function readTensor(file: ModelFile, entry: SafetensorsEntry, memory: TensorMemory): Promise<LoadedTensor> {
  loadableDType(entry, file.path);
  const itemSize = itemSizes[entry.dtype];
  const buffer = await readOrMapTensor(file, entry.begin, entry.end - entry.begin, itemSize, memory, `tensor "${entry.name}"`);
  return tensorOver(entry, buffer);
}

/** Reads the tensors of one .safetensors file (all of them, or those named in `only`) into `into`. */
export async function loadSafetensorsFile(path: string, into: Map<string, LoadedTensor>, only?: ReadonlySet<string>, memory: TensorMemory = {}): Promise<void> {
  await withModelFile(path, async (file) => {
    const entries = await readEntries(file);
    const present = new Set(entries.map((entry) => entry.name));
    for (const name of only ?? []) {
      if (!present.has(name)) throw modelFileError(path, `tensor "${name}" is listed in the index but not in this file`, name);
    }
    for (const entry of entries) {
      if (!only || only.has(entry.name)) into.set(entry.name, await readTensor(file, entry, memory));
    }
  });
}

/** Reads a sharded checkpoint: the index's weight_map says which shard holds each tensor. */
export async function loadShardedSafetensors(dir: string, indexFile = "model.safetensors.index.json", memory: TensorMemory = {}): Promise<Map<string, LoadedTensor>> {
  const indexPath = join(dir, indexFile);
  const weightMap = (await readJsonFile(indexPath)).weight_map;
  if (typeof weightMap !== "object" || weightMap === null) throw modelFileError(indexPath, "missing field \"weight_map\"", "weight_map");
  const byShard = new Map<string, Set<string>>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== "string" || shard.includes("/") || shard.includes("\\")) {
      throw modelFileError(indexPath, `weight_map entry "${name}" should name a shard file in the same folder, found ${JSON.stringify(shard)}`, name);
    }
    if (!byShard.has(shard)) byShard.set(shard, new Set());
    byShard.get(shard)!.add(name);
  }
  const tensors = new Map<string, LoadedTensor>();
  for (const [shard, names] of byShard) await loadSafetensorsFile(join(dir, shard), tensors, names, memory);
  return tensors;
}
