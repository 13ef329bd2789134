// What the random quantized checkpoints (models/random/gptq.ts, fp8.ts) share: a random f32 model
// is written first; every linear of its decoder layers that the format can hold is replaced by the
// format's tensors, and a widened twin, an ordinary f32 folder, holds exactly the values those
// tensors stand for, so any runtime can compute on the quantized weights from it.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isDecoderLinear } from "../../runtime/loader/fp8.ts";
import { loadModel } from "../../runtime/loader/index.ts";
import { tensorToF32 } from "../../runtime/loader/convert.ts";
import { writeSafetensors, type SafetensorsEntry } from "./safetensors-writer.ts";
import { writeRandomModel, type ArchName } from "./write-random-model.ts";

/** A linear's tensors in the quantized checkpoint and the f32 values [N, K] they stand for. */
export interface QuantizedLinear {
  tensors: SafetensorsEntry[];
  widened: Float32Array;
}

export interface QuantizedTwinOptions {
  arch: ArchName;
  outDir: string;
  seed: number;
  /** The quantized folder's name under outDir. */
  name: string;
  /** config.json's quantization_config. */
  quantizationConfig: Record<string, unknown>;
  /** The linear `<base>.weight` [N, K] in the format; undefined leaves it f32 in both folders. */
  quantize(base: string, values: Float32Array, N: number, K: number): QuantizedLinear | undefined;
}

export interface QuantizedTwin {
  /** The quantized folder. */
  quantizedDir: string;
  /** An f32 folder of the same model with each quantized linear widened to the values it holds. */
  widenedDir: string;
}

/** A typed array's bytes as a safetensors entry's one chunk. */
export const chunksOf = (a: Float32Array | Int32Array | Uint16Array | Uint8Array) => () => [new Uint8Array(a.buffer, a.byteOffset, a.byteLength)];

export async function writeQuantizedTwin(options: QuantizedTwinOptions): Promise<QuantizedTwin> {
  const sourceDir = join(options.outDir, "source");
  writeRandomModel({ arch: options.arch, outDir: sourceDir, seed: options.seed, dtype: "f32" });
  const source = await loadModel(sourceDir);
  const quantizedDir = join(options.outDir, options.name);
  const widenedDir = join(options.outDir, "widened");
  const quantized: SafetensorsEntry[] = [];
  const widened: SafetensorsEntry[] = [];
  for (const t of source.tensors.values()) {
    const values = tensorToF32(t);
    const linear = isDecoderLinear(t) ? options.quantize(t.name.slice(0, -".weight".length), values, t.shape[0], t.shape[1]) : undefined;
    quantized.push(...(linear?.tensors ?? [{ name: t.name, dtype: "f32", shape: t.shape, chunks: chunksOf(values) }]));
    widened.push({ name: t.name, dtype: "f32", shape: t.shape, chunks: chunksOf(linear?.widened ?? values) });
  }
  writeTwinFolders(sourceDir, { quantizedDir, widenedDir }, quantized, widened, options.quantizationConfig);
  return { quantizedDir, widenedDir };
}

/** The two folders: the source's tokenizer files, its config.json (the quantized one's with quantization_config) and their tensors. */
export function writeTwinFolders(sourceDir: string, twin: QuantizedTwin, quantized: SafetensorsEntry[], widened: SafetensorsEntry[], quantizationConfig: Record<string, unknown>): void {
  const config = JSON.parse(readFileSync(join(sourceDir, "config.json"), "utf8")) as Record<string, unknown>;
  for (const [dir, entries, extra] of [[twin.quantizedDir, quantized, { quantization_config: quantizationConfig }], [twin.widenedDir, widened, {}]] as const) {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(sourceDir)) if (!/^(model\.(safetensors|gguf)|config\.json)$/.test(file)) copyFileSync(join(sourceDir, file), join(dir, file));
    writeFileSync(join(dir, "config.json"), `${JSON.stringify({ ...config, ...extra }, null, 2)}\n`);
    writeSafetensors(join(dir, "model.safetensors"), entries);
  }
}
