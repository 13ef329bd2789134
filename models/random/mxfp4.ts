// A random GPT-OSS checkpoint as OpenAI publishes gpt-oss (quant_method "mxfp4"): every layer's
// expert weights as MXFP4 blocks and scales in OpenAI's layout ([experts, out, in / 32, 16] bytes,
// two consecutive values a byte, the even one in the low nibble; a u8 exponent per 32 values, the
// value code * 2^(exponent - 127)), everything else as in the f32 folder, beside a widened twin:
// the ordinary (dequantized-layout) f32 folder holding exactly the values those blocks stand for.
// The values are quantized with the GGUF writer's MXFP4 quantizer (same codes and exponents: a ggml
// block's value is kvalues[code] * 2^(e - 128), kvalues the e2m1 values doubled) and repacked.
import { join } from "node:path";
import { dequantizeMXFP4 } from "../../runtime/loader/gguf-quants.ts";
import { loadSafetensorsFile } from "../../runtime/loader/safetensors.ts";
import type { LoadedTensor } from "../../runtime/loader/types.ts";
import { transposedExperts } from "./arch/gpt-oss.ts";
import { quantizeRows } from "./gguf-quantize.ts";
import { chunksOf, writeTwinFolders, type QuantizedTwin } from "./quantized-twin.ts";
import type { SafetensorsEntry } from "./safetensors-writer.ts";
import { writeRandomModel } from "./write-random-model.ts";

/** OpenAI's quantization_config for gpt-oss: the experts alone are MXFP4. */
const quantizationConfig = { quant_method: "mxfp4", modules_to_not_convert: ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"] };

/**
 * Weights multiplied from the left, values [experts, in, out], as MXFP4 over each output's inputs:
 * blocks [experts, out, in / 32, 16], scales [experts, out, in / 32], and the values they decode to
 * in the same [experts, in, out] layout.
 */
function mxfp4Experts(values: Float32Array, experts: number, inputs: number, outputs: number): { blocks: Uint8Array; scales: Uint8Array; decoded: Float32Array } {
  const rows = transposedExperts(values, experts, inputs, outputs, 1, 0);
  const ggml = quantizeRows(rows, "mxfp4");
  const decodedRows = dequantizeMXFP4(ggml);
  const groups = rows.length / 32;
  const [blocks, scales] = [new Uint8Array(groups * 16), new Uint8Array(groups)];
  for (let g = 0; g < groups; g++) {
    // ggml: byte 0 the exponent, then value j in the low nibble of byte 1 + j and value j + 16 in its high one.
    const code = (j: number) => (j < 16 ? ggml[g * 17 + 1 + j] & 0x0f : ggml[g * 17 + 1 + j - 16] >> 4);
    scales[g] = ggml[g * 17];
    for (let b = 0; b < 16; b++) blocks[g * 16 + b] = code(2 * b) | (code(2 * b + 1) << 4);
  }
  return { blocks, scales, decoded: transposedExperts(decodedRows, experts, outputs, inputs, 1, 0) };
}

/** A tiny random GPT-OSS as an MXFP4 checkpoint (outDir/mxfp4) and its widened twin (outDir/widened). */
export async function writeMxfp4GptOss(outDir: string, seed: number): Promise<QuantizedTwin> {
  const sourceDir = join(outDir, "source");
  writeRandomModel({ arch: "gpt_oss", outDir: sourceDir, seed, dtype: "f32" });
  const tensors = new Map<string, LoadedTensor>();
  await loadSafetensorsFile(join(sourceDir, "model.safetensors"), tensors);
  const quantized: SafetensorsEntry[] = [];
  const widened: SafetensorsEntry[] = [];
  for (const t of tensors.values()) {
    const values = t.data as Float32Array;
    const [, base] = t.name.match(/^(model\.layers\.\d+\.mlp\.experts\.(?:gate_up|down)_proj)$/) ?? [];
    if (base === undefined) {
      const entry = { name: t.name, dtype: "f32" as const, shape: t.shape, chunks: chunksOf(values) };
      quantized.push(entry);
      widened.push(entry);
      continue;
    }
    const [experts, inputs, outputs] = t.shape;
    const { blocks, scales, decoded } = mxfp4Experts(values, experts, inputs, outputs);
    quantized.push(
      { name: `${base}_blocks`, dtype: "u8", shape: [experts, outputs, inputs / 32, 16], chunks: chunksOf(blocks) },
      { name: `${base}_scales`, dtype: "u8", shape: [experts, outputs, inputs / 32], chunks: chunksOf(scales) },
    );
    widened.push({ name: t.name, dtype: "f32", shape: t.shape, chunks: chunksOf(decoded) });
  }
  const twin = { quantizedDir: join(outDir, "mxfp4"), widenedDir: join(outDir, "widened") };
  writeTwinFolders(sourceDir, twin, quantized, widened, quantizationConfig);
  return twin;
}
