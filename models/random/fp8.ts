// A random-weight fp8 checkpoint (runtime/loader/fp8.ts) and its widened twin
// (models/random/quantized-twin.ts): every linear of the decoder layers is quantized to e4m3 with
// scale = max |w| / 448 per tensor (quant_method "fp8") or per output (compressed-tensors, channel
// strategy), or per block (weightBlockSize: quant_method "fp8" with weight_scale_inv, as
// DeepSeek-V3 and Qwen3's fp8 releases; compressed-tensors' block strategy with weight_scale),
// q = fp8(w / scale); the twin holds exactly q * scale. The activation scheme says how the
// checkpoint quantizes the linears' inputs: "static" writes an input_scale beside each weight,
// "dynamic" leaves it to run time, and "none" (compressed-tensors only) keeps them unquantized.
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
  /** Static for quant_method "fp8", dynamic for compressed-tensors, unless given; block-wise checkpoints are dynamic. */
  activationScheme?: "static" | "dynamic" | "none";
  /** A static scheme's input_scale for every linear (a calibration would measure max |x| / 448). */
  inputScale?: number;
}

const floatTokens = { num_bits: 8, type: "float", strategy: "token", symmetric: true, dynamic: true };
const channelGroup = { targets: ["Linear"], weights: { num_bits: 8, type: "float", strategy: "channel", symmetric: true, dynamic: false }, input_activations: floatTokens };

/** config.json's quantization_config for the options. */
function quantizationConfig({ quantMethod, weightBlockSize }: RandomFp8Options, scheme: "static" | "dynamic" | "none"): Record<string, unknown> {
  if (quantMethod === "fp8") {
    if (scheme === "none") throw new Error('quant_method "fp8" always names an activation scheme');
    return { quant_method: "fp8", activation_scheme: scheme, ...(weightBlockSize ? { weight_block_size: weightBlockSize } : {}) };
  }
  const { input_activations: _, ...weightsOnly } = channelGroup;
  const inputActivations = { dynamic: floatTokens, static: { ...floatTokens, strategy: "tensor", dynamic: false }, none: undefined }[scheme];
  const group = weightBlockSize
    ? { ...weightsOnly, weights: { ...channelGroup.weights, strategy: "block", block_structure: weightBlockSize }, input_activations: { ...floatTokens, strategy: "group", group_size: weightBlockSize[1] } }
    : { ...weightsOnly, ...(inputActivations ? { input_activations: inputActivations } : {}) };
  return { quant_method: "compressed-tensors", format: "float-quantized", config_groups: { group_0: group }, ignore: ["lm_head"] };
}

export async function writeRandomFp8Model(options: RandomFp8Options): Promise<QuantizedTwin> {
  const perChannel = options.quantMethod === "compressed-tensors";
  const block = options.weightBlockSize;
  const scheme = block ? "dynamic" : (options.activationScheme ?? (options.quantMethod === "fp8" ? "static" : "dynamic"));
  return writeQuantizedTwin({
    ...options,
    seed: options.seed ?? 0,
    name: "fp8",
    quantizationConfig: quantizationConfig(options, scheme),
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
          ...(scheme === "static" ? [{ name: `${base}.input_scale`, dtype: "f32" as const, shape: [], chunks: chunksOf(Float32Array.of(options.inputScale ?? 1)) }] : []),
        ],
        widened,
      };
    },
  });
}
