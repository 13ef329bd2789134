// Scalar-format conversions to f32. The engine converts dtypes natively; these exist for tests, for
// the loader's own fix-ups (Gemma norms), and for code that needs a tensor as f32 on the JS side.
import type { LoadedTensor } from "./types.ts";
import { TsvllmError } from "../errors.ts";
import { dequantizeIQ4_NL, dequantizeIQ4_XS, dequantizeMXFP4, dequantizeQ2_K, dequantizeQ3_K, dequantizeQ4_0, dequantizeQ4_1, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K, dequantizeQ8_0 } from "./gguf-quants.ts";
import { halfTable } from "./half.ts";

export { f16BitsToNumber } from "./half.ts";

export function f16ToF32(bits: Uint16Array): Float32Array {
  const table = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** bfloat16 is the top half of an f32, so widening is a 16-bit shift. */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/** Any loaded tensor as f32 values in its Hugging Face layout (quantized blocks are dequantized). */
export function tensorToF32(tensor: LoadedTensor): Float32Array {
  switch (tensor.dtype) {
    case "f32":
      return tensor.data as Float32Array;
    case "f16":
      return f16ToF32(tensor.data as Uint16Array);
    case "bf16":
      return bf16ToF32(tensor.data as Uint16Array);
    case "q8_0":
      return dequantizeQ8_0(tensor.data as Uint8Array);
    case "q4_0":
      return dequantizeQ4_0(tensor.data as Uint8Array);
    case "q4_1":
      return dequantizeQ4_1(tensor.data as Uint8Array);
    case "q5_0":
      return dequantizeQ5_0(tensor.data as Uint8Array);
    case "q5_1":
      return dequantizeQ5_1(tensor.data as Uint8Array);
    case "q2_K":
      return dequantizeQ2_K(tensor.data as Uint8Array);
    case "q3_K":
      return dequantizeQ3_K(tensor.data as Uint8Array);
    case "q4_K":
      return dequantizeQ4_K(tensor.data as Uint8Array);
    case "q5_K":
      return dequantizeQ5_K(tensor.data as Uint8Array);
    case "iq4_nl":
      return dequantizeIQ4_NL(tensor.data as Uint8Array);
    case "iq4_xs":
      return dequantizeIQ4_XS(tensor.data as Uint8Array);
    case "mxfp4":
      return dequantizeMXFP4(tensor.data as Uint8Array);
    case "q6_K":
      return dequantizeQ6_K(tensor.data as Uint8Array);
    case "i32":
    case "u8":
      throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `tensor "${tensor.name}" holds integers (packed quantized values), not weights to widen`, tensor.name);
    case "fp8e4m3":
      throw new TsvllmError("TSVLLM_ERR_MODEL_FILE", `tensor "${tensor.name}" holds fp8 values that stand for weights only with their weight_scale (runtime/loader/fp8.ts widens them)`, tensor.name);
  }
}
