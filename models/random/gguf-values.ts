// GGUF metadata values: the subset of GGUF's value types that llama.cpp's converter writes for the
// dense architectures here, with the type ids of gguf-py's GGUFValueType.

export type GgufScalarType = "uint32" | "int32" | "float32" | "bool" | "string";

export type GgufValue =
  | { type: "uint32" | "int32" | "float32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: "string"; value: readonly string[] }
  | { type: "array"; itemType: "uint32" | "int32" | "float32"; value: ArrayLike<number> }
  | { type: "array"; itemType: "bool"; value: readonly boolean[] };

export const ggufTypeId = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9 } as const;

export type GgufMetadata = Map<string, GgufValue>;

export const u32 = (value: number): GgufValue => ({ type: "uint32", value });
export const f32 = (value: number): GgufValue => ({ type: "float32", value });
export const str = (value: string): GgufValue => ({ type: "string", value });
export const bool = (value: boolean): GgufValue => ({ type: "bool", value });
