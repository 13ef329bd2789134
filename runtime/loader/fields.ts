// Typed reads of config fields (config.json keys or GGUF metadata keys). A present field of the wrong
// type is a corrupt file, reported with the file and the key; an absent one takes the caller's default.
import { modelFileError } from "./file-io.ts";

export class FieldReader {
  constructor(private readonly lookup: (key: string) => unknown, readonly file: string) {}

  has(key: string): boolean {
    const value = this.lookup(key);
    return value !== undefined && value !== null;
  }

  /** Whether the key holds a string (a field that may be a number or a string, such as EXAONE 4's sliding_window_pattern). */
  isString(key: string): boolean {
    return typeof this.lookup(key) === "string";
  }

  private fail(key: string, expected: string, value: unknown): never {
    throw modelFileError(this.file, `field "${key}" should be ${expected}, found ${JSON.stringify(value)}`, key);
  }

  /** A required number, or `fallback` when the key is absent (an error when there is no fallback). */
  number(key: string, fallback?: number): number {
    const value = this.lookup(key);
    if (value === undefined || value === null) {
      if (fallback === undefined) throw modelFileError(this.file, `missing field "${key}"`, key);
      return fallback;
    }
    if (typeof value !== "number" || !Number.isFinite(value)) this.fail(key, "a number", value);
    return value;
  }

  positiveInteger(key: string, fallback?: number): number {
    const value = this.number(key, fallback);
    if (!Number.isInteger(value) || value <= 0) this.fail(key, "a positive integer", value);
    return value;
  }

  /** A count that may be 0 (a size that 0 switches off). */
  nonNegativeInteger(key: string, fallback?: number): number {
    const value = this.number(key, fallback);
    if (!Number.isInteger(value) || value < 0) this.fail(key, "a non-negative integer", value);
    return value;
  }

  /** A number that a config switches off with an explicit null; absent takes `fallback`. */
  nullableNumber(key: string, fallback: number | null): number | null {
    const value = this.lookup(key);
    if (value === null) return null;
    return value === undefined ? fallback : this.number(key);
  }

  /** A list of `count` positive integers (quantization_config.weight_block_size). */
  positiveIntegers(key: string, count: number): number[] {
    const value = this.lookup(key);
    if (!Array.isArray(value) || value.length !== count || !value.every((v) => Number.isInteger(v) && v > 0)) this.fail(key, `a list of ${count} positive integers`, value);
    return value as number[];
  }

  optionalNumber(key: string): number | null {
    return this.has(key) ? this.number(key) : null;
  }

  string(key: string, fallback?: string): string {
    const value = this.lookup(key);
    if (value === undefined || value === null) {
      if (fallback === undefined) throw modelFileError(this.file, `missing field "${key}"`, key);
      return fallback;
    }
    if (typeof value !== "string") this.fail(key, "a string", value);
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.lookup(key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "boolean") this.fail(key, "true or false", value);
    return value;
  }

  /** A token id that may be written as one integer or as a list of them (eos_token_id). */
  idList(key: string): number[] {
    const value = this.lookup(key);
    if (value === undefined || value === null) return [];
    const list = Array.isArray(value) ? value : [value];
    for (const id of list) if (!Number.isInteger(id) || (id as number) < 0) this.fail(key, "a token id or a list of them", value);
    return list as number[];
  }

  /** A list of non-negative integers (layer indices, as mlp_only_layers); absent is none. */
  indexList(key: string): number[] {
    const value = this.lookup(key);
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v) && v >= 0)) this.fail(key, "a list of indices", value);
    return value as number[];
  }

  /** A required list of finite numbers (LongRoPE's factors). */
  numberList(key: string): number[] {
    const value = this.lookup(key);
    if (value === undefined || value === null) throw modelFileError(this.file, `missing field "${key}"`, key);
    if (!Array.isArray(value) || !value.every((v) => typeof v === "number" && Number.isFinite(v))) this.fail(key, "a list of numbers", value);
    return value as number[];
  }

  /** A list of true/false flags (GGUF bool arrays); absent or a single value is null. */
  booleanList(key: string): boolean[] | null {
    const value = this.lookup(key);
    if (!Array.isArray(value)) return null;
    if (!value.every((v) => typeof v === "boolean")) this.fail(key, "a list of true/false flags", value);
    return value as boolean[];
  }

  /** A list of strings each one of `allowed` (transformers' layer_types); absent is null. */
  choiceList<T extends string>(key: string, allowed: readonly T[]): T[] | null {
    const value = this.lookup(key);
    if (value === undefined || value === null) return null;
    if (!Array.isArray(value) || !value.every((v) => allowed.includes(v as T))) this.fail(key, `a list of ${allowed.map((a) => JSON.stringify(a)).join(" or ")}`, value);
    return value as T[];
  }

  optionalId(key: string): number | null {
    const ids = this.idList(key);
    return ids.length > 0 ? ids[0] : null;
  }

  record(key: string): FieldReader | null {
    const value = this.lookup(key);
    if (value === undefined || value === null) return null;
    if (typeof value !== "object" || Array.isArray(value)) this.fail(key, "an object", value);
    const inner = value as Record<string, unknown>;
    return new FieldReader((k) => inner[k], `${this.file} (${key})`);
  }

  /** An object of objects (compressed-tensors' config_groups), as a reader for each member; absent is none. */
  records(key: string): FieldReader[] {
    const outer = this.record(key);
    const value = this.lookup(key) as Record<string, unknown> | undefined | null;
    return outer && value ? Object.keys(value).map((member) => outer.record(member) ?? outer.fail(member, "an object", value[member])) : [];
  }
}
