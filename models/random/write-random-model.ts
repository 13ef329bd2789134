// Writes a random-weight model of one architecture twice over the same weights: as a Hugging Face
// folder (config.json, generation_config.json, model.safetensors, tokenizer files) and as the GGUF
// llama.cpp's convert_hf_to_gguf.py would make of that folder (model.gguf beside it). Any runtime
// can then be checked against llama.cpp (the GGUF) and against transformers (the folder).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gemma, gemma2 } from "./arch/gemma.ts";
import { llama, mistral } from "./arch/llama.ts";
import { phi3 } from "./arch/phi3.ts";
import { qwen2, qwen3 } from "./arch/qwen.ts";
import type { ArchName, ArchSpec, HfConfig } from "./arch/spec.ts";
import { encodeValues, type WeightDType } from "./dtype.ts";
import { type GgufMetadata, str, u32 } from "./gguf-values.ts";
import { writeGguf, type GgmlType } from "./gguf-writer.ts";
import { writeSafetensors } from "./safetensors-writer.ts";
import { modelShape, type ShapeName } from "./shapes.ts";
import { checkpointValues, ggufValues, type TensorPlan } from "./tensor-plan.ts";
import { copyHfTokenizer, defaultTokenizerSource, ggufTokenizerMetadata, type TokenizerSource } from "./tokenizer.ts";

export type { ArchName, HfConfig } from "./arch/spec.ts";

const architectures: Record<ArchName, ArchSpec> = { llama, mistral, qwen2, qwen3, phi3, gemma, gemma2 };
export const archNames = Object.keys(architectures) as ArchName[];

/** The config.json a random model of this family and size is written with. */
export function randomModelConfig(arch: ArchName, shape: ShapeName, dtype: WeightDType): HfConfig {
  return architectures[arch].hfConfig(modelShape(shape), dtype);
}

export interface RandomModelOptions {
  arch: ArchName;
  outDir: string;
  /** Same seed, same weights; defaults to 0. */
  seed?: number;
  /** Checkpoint dtype; defaults to the shape's (f32, bf16 for llama3-8b). */
  dtype?: WeightDType;
  /** Defaults to "tiny". */
  shape?: ShapeName;
  /** Defaults to the shared stories260K files. */
  tokenizer?: TokenizerSource;
}

export interface RandomModel {
  /** The Hugging Face folder (outDir). */
  hfDir: string;
  /** outDir/model.gguf, or null for shapes written as HF only. */
  ggufPath: string | null;
  config: HfConfig;
}

/** transformers writes config.json with sorted keys and two-space indentation. */
function writeJson(path: string, value: object): void {
  const sorted = Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)));
  writeFileSync(path, `${JSON.stringify(sorted, null, 2)}\n`);
}

function* encodeChunks(chunks: Iterable<Float32Array>, dtype: WeightDType): Generator<Uint8Array> {
  for (const chunk of chunks) yield encodeValues(chunk, dtype);
}

/**
 * The converter's dtype rule: matrices take the output type (F16 for an f16 checkpoint), 1-D tensors
 * (norms, biases) stay F32. bf16 checkpoints are written as F32, which holds bf16 values exactly.
 */
function ggmlTypeOf(plan: TensorPlan, dtype: WeightDType): GgmlType {
  return dtype === "f16" && plan.shape.length === 2 ? "F16" : "F32";
}

function ggufMetadata(spec: ArchSpec, config: HfConfig, options: Required<RandomModelOptions>): GgufMetadata {
  return new Map([
    ["general.architecture", str(spec.ggufArch)],
    ["general.type", str("model")],
    // Not the family's name: llama.cpp applies Phi-3's tokenizer quirks to any model whose name
    // contains "phi3", and this tokenizer is not Phi-3's.
    ["general.name", str(`tsvllm-random-${options.shape}-seed${options.seed}`)],
    // LlamaFileType: ALL_F32 = 0, MOSTLY_F16 = 1.
    ["general.file_type", u32(options.dtype === "f16" ? 1 : 0)],
    ["general.quantization_version", u32(2)],
    ...spec.ggufHyperparameters(config),
    ...ggufTokenizerMetadata(options.tokenizer, config.vocab_size),
  ]);
}

export function writeRandomModel(options: RandomModelOptions): RandomModel {
  const shape = modelShape(options.shape ?? "tiny");
  const resolved: Required<RandomModelOptions> = {
    arch: options.arch,
    outDir: options.outDir,
    seed: options.seed ?? 0,
    dtype: options.dtype ?? shape.defaultDType,
    shape: shape.name,
    tokenizer: options.tokenizer ?? defaultTokenizerSource(),
  };
  const { arch, outDir, seed, dtype, tokenizer } = resolved;
  const spec = architectures[arch];
  const config = spec.hfConfig(shape, dtype);
  const tensors = spec.tensors(config);
  // Families draw from different streams, so that no two architectures share weights by accident.
  const streamSeed = `${arch}:${seed}`;

  mkdirSync(outDir, { recursive: true });
  writeJson(join(outDir, "config.json"), config);
  writeJson(join(outDir, "generation_config.json"), { bos_token_id: config.bos_token_id, eos_token_id: config.eos_token_id });
  copyHfTokenizer(tokenizer, outDir);
  writeSafetensors(
    join(outDir, "model.safetensors"),
    tensors.map((plan) => ({
      name: plan.hfName,
      dtype,
      shape: plan.shape,
      chunks: () => encodeChunks(checkpointValues(plan, streamSeed, dtype), dtype),
    })),
  );
  if (!shape.writesGguf) return { hfDir: outDir, ggufPath: null, config };

  const ggufPath = join(outDir, "model.gguf");
  writeGguf(
    ggufPath,
    ggufMetadata(spec, config, resolved),
    tensors.map((plan) => {
      const type = ggmlTypeOf(plan, dtype);
      return {
        name: plan.ggufName,
        type,
        dims: [...plan.shape].reverse(),
        chunks: () => encodeChunks(ggufValues(plan, streamSeed, dtype), type === "F16" ? "f16" : "f32"),
      };
    }),
  );
  return { hfDir: outDir, ggufPath, config };
}
