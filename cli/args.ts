// Command-line flags with vLLM's names (--max-num-seqs, --block-size, ...), parsed with node:util.
// A bad value is a TsvllmError naming the flag.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { TsvllmError } from "../runtime/errors.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", (err as Error).message);
  }
}

export function intFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--${name} must be a positive integer, got "${value}"`, name);
  return n;
}

export function numberFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--${name} must be a number, got "${value}"`, name);
  return n;
}

/** Byte sizes like "4GiB", "512MiB", "2e9". */
export function bytesFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const m = /^([\d.e+]+)\s*(k|m|g|ki|mi|gi)?b?$/i.exec(value.trim());
  if (!m) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--${name} must be a size like 4GiB, got "${value}"`, name);
  const unit = (m[2] ?? "").toLowerCase();
  const scale = { "": 1, k: 1e3, m: 1e6, g: 1e9, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30 }[unit]!;
  return Math.floor(Number(m[1]) * scale);
}

export const flagError = (flag: string, why: string) => new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--${flag} ${why}`, flag);

/** A flag holding a JSON object (vLLM's --speculative-config, --pooler-config, --hf-overrides, ...). */
export function jsonObjectFlag(value: string, flag: string, example: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw flagError(flag, `must be a JSON object such as ${example}, got ${value}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw flagError(flag, `must be a JSON object, got ${value}`);
  return parsed as Record<string, unknown>;
}

export function dtypeFlag(value: string | undefined): "auto" | "f32" | "f16" | "bf16" {
  const map: Record<string, "auto" | "f32" | "f16" | "bf16"> = { auto: "auto", float32: "f32", f32: "f32", float16: "f16", half: "f16", f16: "f16", bfloat16: "bf16", bf16: "bf16" };
  const d = map[value ?? "auto"];
  if (!d) throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `--dtype must be one of auto, float32, float16, bfloat16; got "${value}"`, "dtype");
  return d;
}
