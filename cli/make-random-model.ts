// Writes a random-weight model (HF folder + GGUF of the same weights) for parity tests and benchmarks:
//   npx tsx cli/make-random-model.ts --arch qwen2 --out DIR [--seed N] [--dtype f32|f16|bf16]
//       [--shape tiny|tinyllama-1.1b|llama3-8b] [--gguf-quant q8_0|q4_0|q4_1|q5_0|q5_1|q2_K|q3_K|q4_K|q5_K|iq4_nl|iq4_xs|mxfp4] [--tokenizer-dir DIR] [--tokenizer-gguf FILE]
//       [--gguf-quant-value-down TYPE]   (attn_v and ffn_down in another block type, as llama.cpp's _M recipes)
//       [--lora-out DIR [--lora-rank 16]]   (also a random LoRA adapter on every linear: PEFT files + adapter.gguf; llama only)

import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { weightDTypes, type WeightDType } from "../models/random/dtype.ts";
import type { GgufQuant } from "../models/random/gguf-quantize.ts";
import { shapeNames, type ShapeName } from "../models/random/shapes.ts";
import { writeRandomLoraAdapter } from "../models/random/lora-adapter.ts";
import { defaultTokenizerSource } from "../models/random/tokenizer.ts";
import { archNames, writeRandomModel, type ArchName } from "../models/random/write-random-model.ts";

const ggufQuants: readonly GgufQuant[] = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "iq4_nl", "iq4_xs", "mxfp4"];

const usage = `usage: make-random-model --arch ${archNames.join("|")} --out DIR [--seed N]
       [--dtype ${weightDTypes.join("|")}] [--shape ${shapeNames.join("|")}]
       [--gguf-quant ${ggufQuants.join("|")}]   (the GGUF's matrices as these blocks; the HF folder unquantized)
       [--gguf-quant-value-down TYPE]   (with --gguf-quant: attn_v and ffn_down in this type instead, as the _M recipes)
       [--tokenizer-dir DIR] [--tokenizer-gguf FILE]   (default: the shared stories260K files)
       [--lora-out DIR [--lora-rank 16]]   (a random LoRA adapter for the model, PEFT and GGUF; llama only)`;

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
  throw new Error(`--${flag} must be one of ${allowed.join(", ")}, not "${value}"\n${usage}`);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      arch: { type: "string" },
      out: { type: "string" },
      seed: { type: "string", default: "0" },
      dtype: { type: "string" },
      shape: { type: "string", default: "tiny" },
      "gguf-quant": { type: "string" },
      "gguf-quant-value-down": { type: "string" },
      "tokenizer-dir": { type: "string" },
      "tokenizer-gguf": { type: "string" },
      "lora-out": { type: "string" },
      "lora-rank": { type: "string", default: "16" },
    },
  });
  const arch = oneOf<ArchName>(values.arch, archNames, "arch");
  if (arch === undefined || values.out === undefined) throw new Error(usage);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, not "${values.seed}"`);
  const defaults = defaultTokenizerSource();

  const started = performance.now();
  const model = writeRandomModel({
    arch,
    outDir: values.out,
    seed,
    dtype: oneOf<WeightDType>(values.dtype, weightDTypes, "dtype"),
    shape: oneOf<ShapeName>(values.shape, shapeNames, "shape"),
    ggufQuant: oneOf<GgufQuant>(values["gguf-quant"], ggufQuants, "gguf-quant") ?? null,
    ggufQuantValueDown: oneOf<GgufQuant>(values["gguf-quant-value-down"], ggufQuants, "gguf-quant-value-down") ?? null,
    tokenizer: { hfDir: values["tokenizer-dir"] ?? defaults.hfDir, gguf: values["tokenizer-gguf"] ?? defaults.gguf },
  });
  const seconds = (performance.now() - started) / 1000;
  const size = (path: string) => `${(statSync(path).size / 2 ** 20).toFixed(1)} MiB`;
  console.log(`${model.config.architectures[0]} (${values.shape}, ${model.config.torch_dtype}, seed ${seed}) in ${seconds.toFixed(1)} s`);
  console.log(`  HF folder  ${model.hfDir} (model.safetensors ${size(`${model.hfDir}/model.safetensors`)})`);
  if (model.ggufPath !== null) console.log(`  GGUF       ${model.ggufPath} (${size(model.ggufPath)})`);
  const loraOut = values["lora-out"];
  if (loraOut !== undefined) {
    if (arch !== "llama") throw new Error("--lora-out writes adapters for --arch llama only");
    const rank = Number(values["lora-rank"]);
    if (!Number.isInteger(rank) || rank < 1) throw new Error(`--lora-rank must be a positive integer, not "${values["lora-rank"]}"`);
    writeRandomLoraAdapter({ outDir: loraOut, config: model.config, rank, alpha: 2 * rank, seed, gguf: model.ggufPath !== null });
    console.log(`  LoRA       ${loraOut} (rank ${rank}, alpha ${2 * rank}, every linear)`);
  }
}

try {
  main();
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
