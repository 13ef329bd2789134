// Reads the metadata section of a small GGUF file (v2/v3), so the random models can carry a real
// tokenizer (tokens, scores, token types, special ids) copied from an existing GGUF.

import { readFileSync } from "node:fs";
import type { GgufMetadata, GgufValue } from "./gguf-values.ts";

const scalarTypes = { 4: "uint32", 5: "int32", 6: "float32", 7: "bool", 8: "string" } as const;
type ScalarTypeId = keyof typeof scalarTypes;
const arrayTypeId = 9;

class Cursor {
  offset = 0;
  constructor(private readonly bytes: Buffer) {}
  u32(): number {
    const value = this.bytes.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }
  u64(): number {
    const value = Number(this.bytes.readBigUInt64LE(this.offset));
    this.offset += 8;
    return value;
  }
  string(): string {
    const length = this.u64();
    const value = this.bytes.toString("utf8", this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
  scalar(typeId: ScalarTypeId): number | boolean | string {
    const start = this.offset;
    switch (scalarTypes[typeId]) {
      case "uint32":
        return this.u32();
      case "int32":
        this.offset += 4;
        return this.bytes.readInt32LE(start);
      case "float32":
        this.offset += 4;
        return this.bytes.readFloatLE(start);
      case "bool":
        this.offset += 1;
        return this.bytes[start] !== 0;
      case "string":
        return this.string();
    }
  }
}

function scalarTypeId(typeId: number, key: string): ScalarTypeId {
  if (!(typeId in scalarTypes)) throw new Error(`GGUF key ${key}: value type ${typeId} is not supported by this reader`);
  return typeId as ScalarTypeId;
}

function readValue(cursor: Cursor, key: string): GgufValue {
  const typeId = cursor.u32();
  if (typeId !== arrayTypeId) {
    const id = scalarTypeId(typeId, key);
    const value = cursor.scalar(id);
    const type = scalarTypes[id];
    if (type === "string") return { type, value: value as string };
    if (type === "bool") return { type, value: value as boolean };
    return { type, value: value as number };
  }
  const itemId = scalarTypeId(cursor.u32(), key);
  const itemType = scalarTypes[itemId];
  const values = Array.from({ length: cursor.u64() }, () => cursor.scalar(itemId));
  if (itemType === "string") return { type: "array", itemType, value: values as string[] };
  if (itemType === "bool") throw new Error(`GGUF key ${key}: arrays of bool are not supported by this reader`);
  return { type: "array", itemType, value: values as number[] };
}

export function readGgufMetadata(path: string): GgufMetadata {
  const cursor = new Cursor(readFileSync(path));
  if (cursor.u32() !== 0x46554747) throw new Error(`${path} is not a GGUF file`);
  const version = cursor.u32();
  if (version < 2) throw new Error(`${path}: GGUF version ${version} is not supported`);
  cursor.u64(); // tensor count
  const count = cursor.u64();
  const metadata: GgufMetadata = new Map();
  for (let i = 0; i < count; i++) {
    const key = cursor.string();
    metadata.set(key, readValue(cursor, key));
  }
  return metadata;
}
