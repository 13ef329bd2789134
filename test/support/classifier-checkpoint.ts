// Writes a sequence-classification checkpoint from a CausalLM folder, as transformers saves one:
// config.json naming the *ForSequenceClassification architecture with its labels, the decoder's
// `model.*` tensors, no LM head, and a `score.weight` [num_labels, hidden] head. The tokenizer
// files are copied as they are. Shared by the model and server suites.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSafetensors } from "../../models/random/safetensors-writer.ts";
import { readSafetensors } from "./random-model-files.ts";

export interface ClassifierCheckpoint {
  /** Replaces architectures[0] (default: the CausalLM's family + ForSequenceClassification). */
  architecture?: string;
  /** score.weight, [rows, hidden] row-major; null writes none (a broken checkpoint). */
  head: Float32Array | null;
  /** Extra config.json keys: num_labels, id2label, problem_type. */
  config: Record<string, unknown>;
}

export function writeClassifierCheckpoint(causalDir: string, outDir: string, { architecture, head, config }: ClassifierCheckpoint): string {
  mkdirSync(outDir, { recursive: true });
  for (const file of readdirSync(causalDir)) {
    if (file !== "config.json" && file !== "model.safetensors") copyFileSync(join(causalDir, file), join(outDir, file));
  }
  const causal = JSON.parse(readFileSync(join(causalDir, "config.json"), "utf8"));
  const hidden = causal.hidden_size as number;
  const family = (causal.architectures[0] as string).replace(/ForCausalLM$/, "");
  writeFileSync(join(outDir, "config.json"), JSON.stringify({ ...causal, ...config, architectures: [architecture ?? `${family}ForSequenceClassification`] }));
  const tensors = [...readSafetensors(join(causalDir, "model.safetensors"))].filter(([name]) => name !== "lm_head.weight");
  const entries = tensors.map(([name, t]) => ({ name, dtype: "f32" as const, shape: t.shape, chunks: () => [new Uint8Array(t.values.buffer)] }));
  if (head !== null) entries.push({ name: "score.weight", dtype: "f32", shape: [head.length / hidden, hidden], chunks: () => [new Uint8Array(head.buffer)] });
  writeSafetensors(join(outDir, "model.safetensors"), entries);
  return outDir;
}

/** The rows of a [rows, width] matrix as one [ids.length, width] matrix (a head made of embedding rows). */
export function pickRows(matrix: Float32Array, width: number, ids: readonly number[]): Float32Array {
  const out = new Float32Array(ids.length * width);
  ids.forEach((id, r) => out.set(matrix.subarray(id * width, (id + 1) * width), r * width));
  return out;
}
