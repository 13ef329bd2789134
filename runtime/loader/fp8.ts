// fp8 checkpoints (vLLM's quant_method "fp8", as AutoFP8 and llm-compressor write them, and
// compressed-tensors' float-quantized 8-bit weights): a quantized linear `<p>.weight` [N, K] is
// F8_E4M3 (OCP e4m3fn) beside `<p>.weight_scale` holding one scale ([] or [1]: per tensor) or one
// per output ([N] or [N, 1]: per channel); weight[n, k] = w[n, k] * scale[n]. Block-wise files
// (weight_block_size / compressed-tensors block_structure [BN, BK]) hold one per block instead,
// [N / BN, cdiv(K, BK)], named `<p>.weight_scale_inv` in quant_method "fp8" files though it
// multiplies as well. A static activation scheme puts a calibrated per-tensor `<p>.input_scale`
// beside each (x is quantized as x / input_scale, dsl/kernels/fp8-mma.ts).
// quantizeFp8AtLoad makes such a checkpoint of an unquantized one, as vLLM's --quantization fp8
// does: every linear of the decoder layers to e4m3 with one scale per tensor, max |w| / 448.
import { fp8e4m3BitsToF32 } from "../../dsl/dtype.ts";
import { TsvllmError } from "../errors.ts";
import { tensorToF32 } from "./convert.ts";
import type { KeptDType, LoadedModel, LoadedTensor, ModelConfig } from "./types.ts";

/** The decoder layers' linear weights (every 2-D tensor of a layer is one), which fp8 quantizes. */
export const isDecoderLinear = (t: Pick<LoadedTensor, "name" | "shape">) => /^model\.layers\.\d+\..+\.weight$/.test(t.name) && t.shape.length === 2;

const fail = (source: string, name: string, what: string) => new TsvllmError("TSVLLM_ERR_MODEL_FILE", `${source}: tensor "${name}" ${what}`, name);

/** The name of an fp8 weight's scale tensor. */
export const fp8ScaleName = (weightName: string) => `${weightName}_scale`;

/** The name of an fp8 weight's static activation scale (`<p>.input_scale` beside `<p>.weight`). */
export const fp8InputScaleName = (weightName: string) => weightName.replace(/\.weight$/, ".input_scale");

/**
 * Checks every fp8 weight against its scale, brings each scale to f32 (per output: [N], a
 * per-tensor scale repeated; block-wise: [N / BN, cdiv(K, BK)] under `<p>.weight_scale`, whatever
 * the file named it), and lists the weights in config.packedWeights, where they stay as stored.
 */
export function normalizeFp8(source: string, config: ModelConfig, tensors: Map<string, LoadedTensor>): void {
  const kept: Record<string, KeptDType> = {};
  const block = config.fp8?.weightBlockSize;
  for (const t of tensors.values()) {
    if (t.dtype !== "fp8e4m3") continue;
    if (!config.fp8) throw fail(source, t.name, "is F8_E4M3 but config.json has no fp8 quantization_config");
    if (!t.name.endsWith(".weight") || t.shape.length !== 2) throw fail(source, t.name, `is F8_E4M3 [${t.shape}]: only linear weights [outputs, inputs] may be`);
    const [N, K] = t.shape;
    if (K % 8 !== 0) throw fail(source, t.name, `has ${K} inputs: an fp8 weight's must be a multiple of 8`);
    // Block-wise quant_method "fp8" files (DeepSeek-V3, Qwen3) call the multiplier weight_scale_inv.
    const scaleName = block && config.fp8.quantMethod === "fp8" ? `${t.name}_scale_inv` : fp8ScaleName(t.name);
    const scale = tensors.get(scaleName);
    if (!scale) throw fail(source, t.name, `is F8_E4M3 with no ${scaleName} beside it`);
    if (!["f32", "f16", "bf16"].includes(scale.dtype)) throw fail(source, scaleName, `is ${scale.dtype}, expected float scales`);
    const values = tensorToF32(scale);
    if (!values.every((v) => Number.isFinite(v) && v > 0)) throw fail(source, scaleName, "holds a scale that is not a positive finite number");
    if (block) {
      const [BN, BK] = block;
      // Stacked q/k/v and gate/up stack their rows of scale blocks, so no block may straddle two.
      if (N % BN !== 0) throw fail(source, t.name, `has ${N} outputs, not a multiple of the fp8 block's ${BN}`);
      const blocks = [N / BN, Math.ceil(K / BK)];
      if (scale.shape.join() !== blocks.join()) throw fail(source, scaleName, `is [${scale.shape}], expected one scale per ${BN} x ${BK} block of [${N}, ${K}]: [${blocks}]`);
      tensors.delete(scaleName);
      tensors.set(fp8ScaleName(t.name), { name: fp8ScaleName(t.name), dtype: "f32", shape: blocks, data: Float32Array.from(values) });
    } else {
      const count = values.length;
      const perChannel = count === N && (scale.shape.join() === `${N}` || scale.shape.join() === `${N},1`);
      if (count !== 1 && !perChannel) throw fail(source, scaleName, `is [${scale.shape}], expected one scale or one per output ([${N}] or [${N}, 1])`);
      scale.data = count === 1 ? new Float32Array(N).fill(values[0]) : Float32Array.from(values);
      scale.dtype = "f32";
      scale.shape = [N];
      if (config.fp8.activationScheme === "static") normalizeInputScale(source, tensors, fp8InputScaleName(t.name));
    }
    kept[t.name] = "fp8e4m3";
  }
  if (Object.keys(kept).length > 0) config.packedWeights = { ...config.packedWeights, ...kept };
}

/** A static activation scheme's per-tensor input scale, to f32 [1]. */
function normalizeInputScale(source: string, tensors: Map<string, LoadedTensor>, name: string): void {
  const scale = tensors.get(name);
  if (!scale) throw fail(source, name, "is missing: the fp8 activation scheme is static, so each fp8 linear needs its input scale");
  if (!["f32", "f16", "bf16"].includes(scale.dtype)) throw fail(source, name, `is ${scale.dtype}, expected a float scale`);
  const values = tensorToF32(scale);
  if (values.length !== 1) throw fail(source, name, `is [${scale.shape}], expected one scale per tensor`);
  if (!(Number.isFinite(values[0]) && values[0] > 0)) throw fail(source, name, "is not a positive finite number");
  tensors.set(name, { name, dtype: "f32", shape: [1], data: Float32Array.of(values[0]) });
}

const fp8Values = Float32Array.from({ length: 256 }, (_, bits) => fp8e4m3BitsToF32(bits));

/** An fp8 weight widened to f32 [N, K] with its scales, for kernels that read weights as stored. */
export function widenFp8(model: Pick<LoadedModel, "tensors" | "config">, weight: LoadedTensor): Float32Array {
  const [N, K] = weight.shape;
  const scales = model.tensors.get(fp8ScaleName(weight.name))!.data as Float32Array;
  const [BN, BK] = model.config.fp8?.weightBlockSize ?? [1, K];
  const blocksPerRow = Math.ceil(K / BK);
  const bits = weight.data as Uint8Array;
  const out = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    const row = Math.floor(n / BN) * blocksPerRow;
    for (let k = 0; k < K; k++) out[n * K + k] = fp8Values[bits[n * K + k]] * scales[row + Math.floor(k / BK)];
  }
  return out;
}

const f32Bits = new Uint32Array(1);
const f32Value = new Float32Array(f32Bits.buffer);

/** f32 -> e4m3fn bits, rounding to nearest even and saturating at +-448, on the f32's bits (dsl/dtype.ts f32ToFp8e4m3Bits is the plain-arithmetic form). */
export function fp8Bits(v: number): number {
  f32Value[0] = v;
  const bits = f32Bits[0];
  const sign = (bits >>> 24) & 0x80;
  const magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) return sign | 0x7f;
  if (magnitude >= 0x43e00000) return sign | 0x7e;
  // Below 2^-6 the step is 2^-9: round |v| * 2^9 to an integer (8 rounds up into the first normal, bits 0x08).
  if (magnitude < 0x3c800000) {
    f32Bits[0] = magnitude;
    const scaled = f32Value[0] * 512;
    const floor = Math.floor(scaled);
    const rest = scaled - floor;
    return sign | (rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor);
  }
  // Keep 3 of the 23 mantissa bits, rounding the 20 dropped ones to even; a carry moves into the exponent.
  const rounded = (magnitude + 0x7ffff + ((magnitude >>> 20) & 1)) >>> 20;
  return sign | Math.min(rounded - ((127 - 7) << 3), 0x7e);
}

/** Quantizes one tensor's values to e4m3 bits in `out` with one scale per tensor, returning the scale. */
export type Fp8Quantizer = (tensor: LoadedTensor, out: Uint8Array) => number;

/** The reference quantizer; runtime/native/fp8_quantize.cc is its native twin, bit for bit. */
export const jsFp8Quantizer: Fp8Quantizer = (tensor, out) => {
  const values = tensorToF32(tensor);
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]));
  const scale = Math.fround(maxAbs / 448) || 1;
  for (let i = 0; i < values.length; i++) out[i] = fp8Bits(values[i] / scale);
  return scale;
};

/** What the native quantizer needs of an addon (runtime/native/fp8_quantize.cc). */
export interface Fp8QuantizeAddon {
  quantizeFp8(src: Float32Array | Uint16Array, dtype: "f32" | "f16" | "bf16", out: Uint8Array): number;
}

/** An addon's native quantizer, for the f32/f16/bf16 tensors it reads; the JS one for any other. */
export function nativeFp8Quantizer(addon: Fp8QuantizeAddon): Fp8Quantizer {
  return (tensor, out) => {
    const { dtype, data } = tensor;
    if ((dtype === "f32" && data instanceof Float32Array) || ((dtype === "f16" || dtype === "bf16") && data instanceof Uint16Array)) return addon.quantizeFp8(data, dtype, out);
    return jsFp8Quantizer(tensor, out);
  };
}

/**
 * Quantizes an unquantized checkpoint's decoder-layer linears to fp8 in place (vLLM's
 * --quantization fp8): each becomes `<p>.weight` e4m3 and `<p>.weight_scale`, then goes through
 * normalizeFp8 like a stored fp8 checkpoint. Weights whose inputs are not a multiple of 8 stay.
 */
export function quantizeFp8AtLoad(model: LoadedModel, quantize: Fp8Quantizer = jsFp8Quantizer): void {
  const { config, tensors } = model;
  if (config.gptq || config.fp8 || config.packedWeights) {
    throw new TsvllmError("TSVLLM_ERR_INVALID_ARGUMENT", `${model.source} is quantized already; --quantization fp8 quantizes f32, f16 and bf16 checkpoints`, "quantization");
  }
  for (const t of [...tensors.values()]) {
    if (!isDecoderLinear(t) || t.shape[1] % 8 !== 0) continue;
    const bits = new Uint8Array(t.shape[0] * t.shape[1]);
    const scale = quantize(t, bits);
    tensors.set(t.name, { name: t.name, dtype: "fp8e4m3", shape: t.shape, data: bits });
    tensors.set(fp8ScaleName(t.name), { name: fp8ScaleName(t.name), dtype: "f32", shape: [], data: Float32Array.of(scale) });
  }
  // vLLM's online fp8 quantizes activations dynamically, per token.
  config.fp8 = { quantMethod: "fp8", activationScheme: "dynamic" };
  normalizeFp8(model.source, config, tensors);
}
