// A random-weight fp8 checkpoint (runtime/loader/fp8.ts) and its widened twin
// (models/random/quantized-twin.ts): every linear of the decoder layers is quantized to e4m3 with
// scale = max |w| / 448 per tensor (quant_method "fp8", static activation scheme, so an
// input_scale is written too) or per output (compressed-tensors, channel strategy, dynamic
// activations), q = fp8(w / scale); the twin holds exactly q * scale.
import { f32ToFp8e4m3Bits, fp8e4m3BitsToF32 } from "../../dsl/dtype.ts";
import { chunksOf, writeQuantizedTwin, type QuantizedTwin } from "./quantized-twin.ts";
import type { ArchName } from "./write-random-model.ts";

export interface RandomFp8Options {
  arch: ArchName;
  outDir: string;
  seed?: number;
  /** "fp8": one scale per tensor, as AutoFP8 writes; "compressed-tensors": one per output, as llm-compressor's FP8_DYNAMIC. */
  quantMethod: "fp8" | "compressed-tensors";
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

export async function writeRandomFp8Model(options: RandomFp8Options): Promise<QuantizedTwin> {
  const perChannel = options.quantMethod === "compressed-tensors";
  return writeQuantizedTwin({
    ...options,
    seed: options.seed ?? 0,
    name: "fp8",
    quantizationConfig: quantizationConfigs[options.quantMethod],
    quantize(base, values, N, K) {
      if (K % 8 !== 0) return undefined;
      const maxAbs = (from: number, to: number) => values.subarray(from, to).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const scales = perChannel ? Float32Array.from({ length: N }, (_, n) => maxAbs(n * K, (n + 1) * K) / 448 || 1) : Float32Array.of(maxAbs(0, N * K) / 448 || 1);
      const q = new Uint8Array(N * K);
      const widened = new Float32Array(N * K);
      for (let i = 0; i < N * K; i++) {
        const scale = scales[perChannel ? Math.floor(i / K) : 0];
        q[i] = f32ToFp8e4m3Bits(values[i] / scale);
        widened[i] = fp8e4m3BitsToF32(q[i]) * scale;
      }
      return {
        tensors: [
          { name: `${base}.weight`, dtype: "fp8e4m3", shape: [N, K], chunks: chunksOf(q) },
          { name: `${base}.weight_scale`, dtype: "f32", shape: perChannel ? [N, 1] : [], chunks: chunksOf(scales) },
          ...(perChannel ? [] : [{ name: `${base}.input_scale`, dtype: "f32" as const, shape: [], chunks: chunksOf(Float32Array.of(1)) }]),
        ],
        widened,
      };
    },
  });
}
