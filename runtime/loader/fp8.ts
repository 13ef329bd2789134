// fp8 checkpoints (vLLM's quant_method "fp8", as AutoFP8 and llm-compressor write them, and
// compressed-tensors' float-quantized 8-bit weights): a quantized linear `<p>.weight` [N, K] is
// F8_E4M3 (OCP e4m3fn) beside `<p>.weight_scale` holding one scale ([] or [1]: per tensor) or one
// per output ([N] or [N, 1]: per channel); weight[n, k] = w[n, k] * scale[n]. Static activation
// scales (`<p>.input_scale`) are left unused: the forward pass runs these linears weight-only
// (dsl/kernels/fp8-matmul.ts matmulFp8Weights), activations unquantized.
import { fp8e4m3BitsToF32 } from "../../dsl/dtype.ts";
import { TsvllmError } from "../errors.ts";
import { tensorToF32 } from "./convert.ts";
import type { KeptDType, LoadedModel, LoadedTensor, ModelConfig } from "./types.ts";

const fail = (source: string, name: string, what: string) => new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${source}: tensor "${name}" ${what}`, name);

/** The name of an fp8 weight's scale tensor. */
export const fp8ScaleName = (weightName: string) => `${weightName}_scale`;

/**
 * Checks every fp8 weight against its scale, brings each scale to f32 [N] (a per-tensor scale
 * repeated per output), and lists the weights in config.packedWeights, where they stay as stored.
 */
export function normalizeFp8(source: string, config: ModelConfig, tensors: Map<string, LoadedTensor>): void {
  const kept: Record<string, KeptDType> = {};
  for (const t of tensors.values()) {
    if (t.dtype !== "fp8e4m3") continue;
    if (!config.fp8) throw fail(source, t.name, "is F8_E4M3 but config.json has no fp8 quantization_config");
    if (!t.name.endsWith(".weight") || t.shape.length !== 2) throw fail(source, t.name, `is F8_E4M3 [${t.shape}]: only linear weights [outputs, inputs] may be`);
    const [N, K] = t.shape;
    if (K % 8 !== 0) throw fail(source, t.name, `has ${K} inputs: an fp8 weight's must be a multiple of 8`);
    const scaleName = fp8ScaleName(t.name);
    const scale = tensors.get(scaleName);
    if (!scale) throw fail(source, t.name, `is F8_E4M3 with no ${scaleName} beside it`);
    const count = scale.shape.reduce((a, b) => a * b, 1);
    const perChannel = count === N && (scale.shape.join() === `${N}` || scale.shape.join() === `${N},1`);
    if (!["f32", "f16", "bf16"].includes(scale.dtype) || (count !== 1 && !perChannel)) {
      throw fail(source, scaleName, `is ${scale.dtype} [${scale.shape}], expected one float scale or one per output ([${N}] or [${N}, 1])`);
    }
    const values = tensorToF32(scale);
    if (!values.every((v) => Number.isFinite(v) && v > 0)) throw fail(source, scaleName, "holds a scale that is not a positive finite number");
    scale.data = count === 1 ? new Float32Array(N).fill(values[0]) : Float32Array.from(values);
    scale.dtype = "f32";
    scale.shape = [N];
    kept[t.name] = "fp8e4m3";
  }
  if (Object.keys(kept).length > 0) config.packedWeights = { ...config.packedWeights, ...kept };
}

const fp8Values = Float32Array.from({ length: 256 }, (_, bits) => fp8e4m3BitsToF32(bits));

/** An fp8 weight widened to f32 [N, K] with its scales, for kernels that read weights as stored. */
export function widenFp8(model: Pick<LoadedModel, "tensors">, weight: LoadedTensor): Float32Array {
  const [N, K] = weight.shape;
  const scales = model.tensors.get(fp8ScaleName(weight.name))!.data as Float32Array;
  const bits = weight.data as Uint8Array;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    const scale = scales[n];
    for (let k = 0; k < K; k++) out[n * K + k] = fp8Values[bits[n * K + k]] * scale;
  }
  return out;
}
