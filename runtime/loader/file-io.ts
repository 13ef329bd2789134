// Positioned reads shared by the safetensors and GGUF readers. Tensors are read one by one straight
// into their own typed arrays: Node has no mmap, a whole-file Buffer is capped at 2 GiB (checkpoint
// shards are often 4-5 GB), and a fresh typed array is always aligned for its element type.
import { readFileSync } from "node:fs";
import { open, readFile, type FileHandle } from "node:fs/promises";
import { TsvllmError } from "../errors.ts";
import type { TensorMemory } from "./types.ts";

/** Every corrupt- or missing-file error names the file first, so the user knows which one to fix. */
export function modelFileError(file: string, message: string, param?: string): TsvllmError {
  return new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${file}: ${message}`, param);
}

export interface ModelFile {
  readonly path: string;
  readonly size: number;
  readonly handle: FileHandle;
}

export async function openModelFile(path: string): Promise<ModelFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    throw modelFileError(path, `cannot open (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  const { size } = await handle.stat();
  return { path, size, handle };
}

/** Runs `body` with the file open and always closes it, also when `body` throws. */
export async function withModelFile<T>(path: string, body: (file: ModelFile) => Promise<T>): Promise<T> {
  const file = await openModelFile(path);
  try {
    return await body(file);
  } finally {
    await file.handle.close();
  }
}

// One read() call moves at most 2 GiB - 1 bytes, so large tensors are read in chunks.
const maxReadChunk = 1 << 30;

/** Fills `into` with the bytes at [position, position + into.byteLength); a short file is an error. */
export async function readExactly(file: ModelFile, position: number, into: Uint8Array, what: string): Promise<void> {
  if (position + into.byteLength > file.size) {
    throw modelFileError(file.path, `${what}: bytes [${position}, ${position + into.byteLength}) exceed file size ${file.size}`);
  }
  let done = 0;
  while (done < into.byteLength) {
    const length = Math.min(maxReadChunk, into.byteLength - done);
    const { bytesRead } = await file.handle.read(into, done, length, position + done);
    if (bytesRead === 0) throw modelFileError(file.path, `${what}: unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

/** The bytes of a typed array, for reading file data into it without an intermediate copy. */
export function bytesOf(array: Float32Array | Uint16Array | Uint8Array | Int32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** A zeroed array of `length` elements of the same kind as `data`, for tensors rebuilt row by row through bytesOf. */
export function sameArrayType<A extends Float32Array | Uint16Array | Uint8Array | Int32Array>(data: A, length: number): A;
export function sameArrayType(data: Float32Array | Uint16Array | Uint8Array | Int32Array, length: number): Float32Array | Uint16Array | Uint8Array | Int32Array {
  if (data instanceof Float32Array) return new Float32Array(length);
  if (data instanceof Uint16Array) return new Uint16Array(length);
  if (data instanceof Int32Array) return new Int32Array(length);
  return new Uint8Array(length);
}

/** A JSON object file, or null when the file does not exist. */
export async function readOptionalJsonFile(path: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw modelFileError(path, `cannot read (${code ?? String(error)})`);
  }
  return jsonObject(text, path);
}

function jsonObject(text: string, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw modelFileError(path, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw modelFileError(path, "should hold a JSON object");
  return value as Record<string, unknown>;
}

/** A JSON object file, read synchronously (a small file read while serving, like a LoRA adapter's config). */
export function readJsonFileSync(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw modelFileError(path, `cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  return jsonObject(text, path);
}

export async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  const value = await readOptionalJsonFile(path);
  if (!value) throw modelFileError(path, "file not found");
  return value;
}

/**
 * A tensor's bytes [begin, begin + bytes) of the file, already checked to lie within it: mapped
 * where memory.mapFile is given and begin is a multiple of the element size, else read.
 */
export async function readOrMapTensor(file: ModelFile, begin: number, bytes: number, elementSize: number, memory: TensorMemory, what: string): Promise<ArrayBuffer> {
  if (memory.mapFile && begin % elementSize === 0) return memory.mapFile(file.path, begin, bytes);
  const buffer = memory.allocate?.(bytes) ?? new ArrayBuffer(bytes);
  await readExactly(file, begin, new Uint8Array(buffer, 0, bytes), what);
  return buffer;
}
