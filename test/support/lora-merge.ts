// The oracle for LoRA: a copy of an f32 HF model folder with a PEFT adapter merged into its weights
// (W + scaling * B A, in float64), computed from the files with the tests' own safetensors reader,
// so the merged model runs through the base-model path, which llama.cpp checks.
import { cpSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeSafetensors } from "../../models/random/safetensors-writer.ts";
import { readSafetensors } from "./random-model-files.ts";

export function mergeLoraIntoFolder(baseDir: string, adapterDir: string, outDir: string): void {
  cpSync(baseDir, outDir, { recursive: true, filter: (src) => !src.endsWith(".gguf") && !src.endsWith("model.safetensors") });
  const config = JSON.parse(readFileSync(join(adapterDir, "adapter_config.json"), "utf8")) as { r: number; lora_alpha: number; use_rslora?: boolean };
  const scaling = config.use_rslora ? config.lora_alpha / Math.sqrt(config.r) : config.lora_alpha / config.r;
  const base = readSafetensors(join(baseDir, "model.safetensors"));
  const adapter = readSafetensors(join(adapterDir, "adapter_model.safetensors"));
  for (const [name, tensor] of base) {
    const a = adapter.get(`base_model.model.${name.replace(/\.weight$/, "")}.lora_A.weight`);
    const b = adapter.get(`base_model.model.${name.replace(/\.weight$/, "")}.lora_B.weight`);
    if (!a || !b) continue;
    if (tensor.dtype !== "F32") throw new Error(`mergeLoraIntoFolder expects f32 weights, ${name} is ${tensor.dtype}`);
    const [outFeatures, inFeatures] = tensor.shape;
    const rank = a.shape[0];
    for (let o = 0; o < outFeatures; o++) {
      for (let i = 0; i < inFeatures; i++) {
        let delta = 0;
        for (let r = 0; r < rank; r++) delta += b.values[o * rank + r] * a.values[r * inFeatures + i];
        tensor.values[o * inFeatures + i] += scaling * delta;
      }
    }
  }
  writeSafetensors(join(outDir, "model.safetensors"), [...base].map(([name, t]) => ({ name, dtype: "f32" as const, shape: t.shape, chunks: () => [new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength)] })));
  if (!readdirSync(outDir).includes("config.json")) throw new Error(`${baseDir} has no config.json`);
}
