// A random-weight fp8 checkpoint (runtime/loader/fp8.ts) and its widened twin
// (models/random/quantized-twin.ts): every linear of the decoder layers is quantized to e4m3 with
// scale = max |w| / 448 per tensor (quant_method "fp8", static activation scheme, so an
// input_scale is written too) or per output (compressed-tensors, channel strategy, dynamic
// activations), or per block (weightBlockSize: quant_method "fp8" with weight_scale_inv, as
// DeepSeek-V3 and Qwen3's fp8 releases; compressed-tensors' block strategy with weight_scale),
// q = fp8(w / scale); the twin holds exactly q * scale.
import { f32ToFp8e4m3Bits, fp8e4m3BitsToF32 } from "../../dsl/dtype.ts";
import { chunksOf, writeQuantizedTwin, type QuantizedTwin } from "./quantized-twin.ts";
import type { ArchName } from "./write-random-model.ts";

export interface RandomFp8Options {
  arch: ArchName;
  outDir: string;
  seed?: number;
  /** "fp8": one scale per tensor, as AutoFP8 writes; "compressed-tensors": one per output, as llm-compressor's FP8_DYNAMIC. */
  quantMethod: "fp8" | "compressed-tensors";
  /** [BN, BK]: one scale per block of BN outputs by BK inputs. */
  weightBlockSize?: [number, number];
}

const quantizationConfigs = {
  fp8: { quant_method: "fp8", activation_scheme: "static" },
  "compressed-tensors": {
    quant_method: "compressed-tensors",
    format: "float-quantized",
    config_groups: {
      group_0: {
        targets: ["Linear"],
        weights: { num_bits: 8, type: "float", strategy: "channel", symmetric: true, dynamic: false },
        input_activations: { num_bits: 8, type: "float", strategy: "token", symmetric: true, dynamic: true },
      },
    },
    ignore: ["lm_head"],
  },
};

/** config.json's quantization_config for the options. */
function quantizationConfig({ quantMethod, weightBlockSize }: RandomFp8Options): Record<string, unknown> {
  if (!weightBlockSize) return quantizationConfigs[quantMethod];
  if (quantMethod === "fp8") return { quant_method: "fp8", activation_scheme: "dynamic", weight_block_size: weightBlockSize };
  const { config_groups, ...rest } = quantizationConfigs["compressed-tensors"];
  const group = config_groups.group_0;
  return { ...rest, config_groups: { group_0: { ...group, weights: { ...group.weights, strategy: "block", block_structure: weightBlockSize }, input_activations: { ...group.input_activations, strategy: "group", group_size: weightBlockSize[1] } } } };
}

export async function writeRandomFp8Model(options: RandomFp8Options): Promise<QuantizedTwin> {
  const perChannel = options.quantMethod === "compressed-tensors";
  const block = options.weightBlockSize;
  return writeQuantizedTwin({
    ...options,
    seed: options.seed ?? 0,
    name: "fp8",
    quantizationConfig: quantizationConfig(options),
    quantize(base, values, N, K) {
      if (K % 8 !== 0) return undefined;
      // Each value's scale group: its block, its row, or the whole tensor.
      const [BN, BK] = block ?? (perChannel ? [1, K] : [N, K]);
      const blocksPerRow = Math.ceil(K / BK);
      const groupOf = (i: number) => Math.floor(Math.floor(i / K) / BN) * blocksPerRow + Math.floor((i % K) / BK);
      const scales = new Float32Array(Math.ceil(N / BN) * blocksPerRow);
      for (let i = 0; i < N * K; i++) scales[groupOf(i)] = Math.max(scales[groupOf(i)], Math.abs(values[i]) / 448);
      scales.forEach((s, g) => (scales[g] = s || 1));
      const q = new Uint8Array(N * K);
      const widened = new Float32Array(N * K);
      for (let i = 0; i < N * K; i++) {
        const scale = scales[groupOf(i)];
        q[i] = f32ToFp8e4m3Bits(values[i] / scale);
        widened[i] = fp8e4m3BitsToF32(q[i]) * scale;
      }
      const scaleEntry = block
        ? { name: options.quantMethod === "fp8" ? `${base}.weight_scale_inv` : `${base}.weight_scale`, dtype: "f32" as const, shape: [N / BN, blocksPerRow] }
        : { name: `${base}.weight_scale`, dtype: "f32" as const, shape: perChannel ? [N, 1] : [] };
      return {
        tensors: [
          { name: `${base}.weight`, dtype: "fp8e4m3", shape: [N, K], chunks: chunksOf(q) },
          { ...scaleEntry, chunks: chunksOf(scales) },
          ...(perChannel || block ? [] : [{ name: `${base}.input_scale`, dtype: "f32" as const, shape: [], chunks: chunksOf(Float32Array.of(1)) }]),
        ],
        widened,
      };
    },
  });
}
