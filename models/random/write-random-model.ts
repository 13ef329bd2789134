// Writes a random-weight model of one architecture twice over the same weights: as a Hugging Face
// folder (config.json, generation_config.json, model.safetensors, tokenizer files) and as the GGUF
// llama.cpp's convert_hf_to_gguf.py would make of that folder (model.gguf beside it). Any runtime
// can then be checked against llama.cpp (the GGUF) and against transformers (the folder).

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gemma, gemma2, gemma3 } from "./arch/gemma.ts";
import { granite, llama, mistral, smollm3 } from "./arch/llama.ts";
import { glm4 } from "./arch/glm4.ts";
import { gptOss } from "./arch/gpt-oss.ts";
import { cohere, cohere2 } from "./arch/cohere.ts";
import { exaone4 } from "./arch/exaone4.ts";
import { ernie4_5 } from "./arch/ernie.ts";
import { mixtral } from "./arch/mixtral.ts";
import { olmo2, olmo3 } from "./arch/olmo2.ts";
import { phi3 } from "./arch/phi3.ts";
import { qwen2, qwen2Moe, qwen3, qwen3Moe } from "./arch/qwen.ts";
import type { ArchName, ArchSpec, HfConfig } from "./arch/spec.ts";
import { encodeValues, type WeightDType } from "./dtype.ts";
import { type GgufMetadata, str, u32 } from "./gguf-values.ts";
import { writeGguf, type GgmlType } from "./gguf-writer.ts";
import { dequantizeIQ4_NL, dequantizeIQ4_XS, dequantizeMXFP4, dequantizeQ2_K, dequantizeQ3_K, dequantizeQ4_0, dequantizeQ4_1, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ4_K, dequantizeQ5_K, dequantizeQ8_0 } from "../../runtime/loader/gguf-quants.ts";
import { quantizeRows, valuesPerQuantBlock, type GgufQuant } from "./gguf-quantize.ts";
import { writeSafetensors } from "./safetensors-writer.ts";
import { modelShape, type ShapeName } from "./shapes.ts";
import { checkpointValues, ggufHfShape, ggufValues, hfTensorPlans, type CheckpointPlan } from "./tensor-plan.ts";
import { copyHfTokenizer, defaultTokenizerSource, ggufTokenizerMetadata, type TokenizerSource } from "./tokenizer.ts";

export type { ArchName, HfConfig } from "./arch/spec.ts";

const architectures: Record<ArchName, ArchSpec> = { llama, mistral, mixtral, qwen2, qwen2_moe: qwen2Moe, qwen3, qwen3_moe: qwen3Moe, phi3, gemma, gemma2, gemma3, granite, olmo2, olmo3, smollm3, glm4, cohere, cohere2, exaone4, ernie4_5, gpt_oss: gptOss };
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
  /**
   * GGUF only: the matrices whose rows are whole 32-value blocks (every linear weight but MoE
   * routers, stacked experts too, and the token embedding) quantized to these blocks, as
   * llama.cpp's quantize makes a Q8_0 or Q4_0 file.
   * The HF folder keeps the unquantized weights, so the two files then differ by the rounding.
   */
  ggufQuant?: GgufQuant | null;
  /**
   * With ggufQuant: write those matrices as F32 holding exactly the values the blocks decode to,
   * so a runtime that widens nothing (llama.cpp) computes on the quantized weights without also
   * quantizing its activations, as it does for block weights.
   */
  ggufQuantWidened?: boolean;
  /**
   * With ggufQuant: the attention value and MLP down projections in this block type instead, as
   * llama.cpp's _M recipes keep them wider (Q4_K_M: Q6_K for about half of them), so that a fused
   * qkv holds pieces of two formats.
   */
  ggufQuantValueDown?: GgufQuant | null;
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
 * MoE routers and Qwen2-MoE's shared-expert gate stay F32 in the converter's output (its always-F32
 * list) and through llama.cpp's quantize (routers by name; the gate, ne [hidden, 1], has one dimension
 * as ggml counts them).
 */
const isRouter = (plan: CheckpointPlan) => /\.ffn_gate_inp(_shexp)?\.weight$/.test(plan.ggufName);

/**
 * The block format a GGUF matrix is quantized to: weights with rows of whole blocks only (32 values,
 * 256 for Q4_K; others stay float, as llama.cpp's quantize leaves them, and so do GPT-OSS's 2-D
 * expert biases, which its quantize skips by name).
 */
function quantOf(plan: CheckpointPlan, options: Required<RandomModelOptions>): GgufQuant | null {
  if (!plan.ggufName.endsWith(".weight")) return null;
  const valueDown = options.ggufQuantValueDown !== null && /\.(attn_v|ffn_down)\./.test(plan.ggufName);
  const quant = options.ggufQuant === null ? null : valueDown ? options.ggufQuantValueDown : options.ggufQuant;
  const shape = ggufHfShape(plan);
  return quant !== null && shape.length >= 2 && shape[shape.length - 1] % valuesPerQuantBlock(quant) === 0 && !isRouter(plan) ? quant : null;
}

const quantGgmlType: Record<GgufQuant, GgmlType> = { q8_0: "Q8_0", q4_0: "Q4_0", q4_1: "Q4_1", q5_0: "Q5_0", q5_1: "Q5_1", q2_K: "Q2_K", q3_K: "Q3_K", q4_K: "Q4_K", q5_K: "Q5_K", iq4_nl: "IQ4_NL", iq4_xs: "IQ4_XS", mxfp4: "MXFP4" };
const dequantize: Record<GgufQuant, (bytes: Uint8Array) => Float32Array> = {
  q8_0: dequantizeQ8_0, q4_0: dequantizeQ4_0, q4_1: dequantizeQ4_1, q5_0: dequantizeQ5_0, q5_1: dequantizeQ5_1, q2_K: dequantizeQ2_K, q3_K: dequantizeQ3_K, q4_K: dequantizeQ4_K, q5_K: dequantizeQ5_K, iq4_nl: dequantizeIQ4_NL, iq4_xs: dequantizeIQ4_XS, mxfp4: dequantizeMXFP4,
};

/**
 * The converter's dtype rule: matrices and expert stacks take the output type (F16 for an f16
 * checkpoint), 1-D tensors (norms, biases) and routers stay F32, and so do GPT-OSS's 2-D expert
 * biases (llama.cpp adds them with an op that takes F32 only). bf16 checkpoints are written as
 * F32, which holds bf16 values exactly.
 */
function ggmlTypeOf(plan: CheckpointPlan, dtype: WeightDType, options: Required<RandomModelOptions>): GgmlType {
  const blocks = quantOf(plan, options);
  if (blocks !== null) return options.ggufQuantWidened ? "F32" : quantGgmlType[blocks];
  return dtype === "f16" && ggufHfShape(plan).length >= 2 && !isRouter(plan) && plan.ggufName.endsWith(".weight") ? "F16" : "F32";
}

function* ggufChunks(values: Iterable<Float32Array>, type: GgmlType, quant: GgufQuant | null): Generator<Uint8Array> {
  for (const chunk of values) {
    if (quant === null) yield encodeValues(chunk, type === "F16" ? "f16" : "f32");
    else if (type === "F32") yield encodeValues(dequantize[quant](quantizeRows(chunk, quant)), "f32");
    else yield quantizeRows(chunk, quant);
  }
}

/** LlamaFileType: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, MOSTLY_Q8_0 = 7, MOSTLY_Q5_0 = 8, MOSTLY_Q5_1 = 9, MOSTLY_Q2_K = 10, MOSTLY_Q3_K_S = 11, MOSTLY_Q4_K_S = 14, MOSTLY_Q5_K_S = 16, MOSTLY_IQ4_NL = 25, MOSTLY_IQ4_XS = 30, MOSTLY_MXFP4_MOE = 38. */
const quantFileType: Record<GgufQuant, number> = { q8_0: 7, q4_0: 2, q4_1: 3, q5_0: 8, q5_1: 9, q2_K: 10, q3_K: 11, q4_K: 14, q5_K: 16, iq4_nl: 25, iq4_xs: 30, mxfp4: 38 };

function llamaFileType(options: Required<RandomModelOptions>): number {
  if (options.ggufQuant !== null && !options.ggufQuantWidened) return quantFileType[options.ggufQuant];
  return options.dtype === "f16" ? 1 : 0;
}

function ggufMetadata(spec: ArchSpec, config: HfConfig, options: Required<RandomModelOptions>): GgufMetadata {
  return new Map([
    ["general.architecture", str(spec.ggufArch)],
    ["general.type", str("model")],
    // Not the family's name: llama.cpp applies Phi-3's tokenizer quirks to any model whose name
    // contains "phi3", and this tokenizer is not Phi-3's.
    ["general.name", str(`tsvllm-random-${options.shape}-seed${options.seed}`)],
    ["general.file_type", u32(llamaFileType(options))],
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
    ggufQuant: options.ggufQuant ?? null,
    ggufQuantWidened: options.ggufQuantWidened ?? false,
    ggufQuantValueDown: options.ggufQuantValueDown ?? null,
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
    hfTensorPlans(tensors).map((plan) => ({
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
    [
      ...tensors.map((plan) => {
        const type = ggmlTypeOf(plan, dtype, resolved);
        return { name: plan.ggufName, type, dims: [...ggufHfShape(plan)].reverse(), chunks: () => ggufChunks(ggufValues(plan, streamSeed, dtype), type, quantOf(plan, resolved)) };
      }),
      ...(spec.ggufExtraTensors?.(config) ?? []).map(({ ggufName, values }) => ({ name: ggufName, type: "F32" as const, dims: [values.length], chunks: () => [encodeValues(values, "f32")] })),
    ],
  );
  return { hfDir: outDir, ggufPath, config };
}
