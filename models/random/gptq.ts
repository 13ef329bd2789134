// A random-weight GPTQ checkpoint (AutoGPTQ's layout, or AWQ's GEMM layout of the same values;
// runtime/loader/gptq.ts) and its widened twin (models/random/quantized-twin.ts): every linear of
// the decoder layers is quantized to 4 bits in groups along the input (asymmetric: scale = (max -
// min) / 15 rounded to f16, zero = round(-min / scale), q = clamp(round(w / scale) + zero, 0, 15)),
// and written as qweight, qzeros, scales and g_idx; the twin holds exactly (q - zero) * scale.
import { f16BitsToF32, f32ToF16Bits } from "../../dsl/dtype.ts";
import { chunksOf, writeQuantizedTwin, type QuantizedTwin } from "./quantized-twin.ts";
import type { SafetensorsEntry } from "./safetensors-writer.ts";
import type { ArchName } from "./write-random-model.ts";

export interface RandomGptqOptions {
  arch: ArchName;
  outDir: string;
  seed?: number;
  /** Inputs per group (config group_size); -1 quantizes each output's whole input as one group. */
  groupSize: number;
  /** "gptq" (v1) stores each zero point minus 1, as AutoGPTQ long did; "gptq_v2" stores it as used; "awq" packs along the outputs. */
  checkpointFormat: "gptq" | "gptq_v2" | "awq";
}

interface Quantized {
  /** [K / 8, N] (GPTQ) or [K, N / 8] (AWQ). */
  qweight: Int32Array;
  qweightShape: number[];
  qzeros: Int32Array;
  scales: Uint16Array;
  widened: Float32Array;
}

/** w [N, K] (row n, input k) to the format's tensors, groups of G inputs. */
function quantize(w: Float32Array, N: number, K: number, G: number, format: RandomGptqOptions["checkpointFormat"]): Quantized {
  const groups = K / G;
  const awq = format === "awq";
  const out: Quantized = { qweight: new Int32Array((K / 8) * N), qweightShape: awq ? [K, N / 8] : [K / 8, N], qzeros: new Int32Array(groups * (N / 8)), scales: new Uint16Array(groups * N), widened: new Float32Array(N * K) };
  // GPTQ packs 8 inputs of a column per word, AWQ 8 columns of an input, column c in nibble (c % 2) * 4 + c / 2.
  const awqNibble = (c: number) => (c % 2) * 4 + (c >> 1);
  const columnNibble = (n: number) => 4 * (awq ? awqNibble(n & 7) : n & 7);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      const values = w.subarray(n * K + g * G, n * K + (g + 1) * G);
      const lo = Math.min(0, ...values);
      const hi = Math.max(0, ...values);
      const bits = f32ToF16Bits((hi - lo) / 15 || 1);
      const scale = f16BitsToF32(bits);
      const zero = Math.min(15, Math.max(0, Math.round(-lo / scale)));
      out.scales[g * N + n] = bits;
      out.qzeros[g * (N / 8) + (n >> 3)] |= ((format === "gptq" ? zero - 1 : zero) & 15) << columnNibble(n);
      values.forEach((v, i) => {
        const k = g * G + i;
        const q = Math.min(15, Math.max(0, Math.round(v / scale) + zero));
        if (awq) out.qweight[k * (N / 8) + (n >> 3)] |= q << columnNibble(n);
        else out.qweight[(k >> 3) * N + n] |= q << (4 * (k & 7));
        out.widened[n * K + k] = (q - zero) * scale;
      });
    }
  }
  return out;
}

export async function writeRandomGptqModel(options: RandomGptqOptions): Promise<QuantizedTwin> {
  const awq = options.checkpointFormat === "awq";
  return writeQuantizedTwin({
    ...options,
    seed: options.seed ?? 0,
    name: "gptq",
    quantizationConfig: awq
      ? { quant_method: "awq", bits: 4, group_size: options.groupSize, zero_point: true, version: "gemm" }
      : { quant_method: "gptq", bits: 4, group_size: options.groupSize, desc_act: false, sym: false, checkpoint_format: options.checkpointFormat },
    quantize(base, values, N, K) {
      const G = options.groupSize === -1 ? K : options.groupSize;
      if (N % 8 !== 0 || K % G !== 0) return undefined;
      const q = quantize(values, N, K, G, options.checkpointFormat);
      const tensors: SafetensorsEntry[] = [
        { name: `${base}.qweight`, dtype: "i32", shape: q.qweightShape, chunks: chunksOf(q.qweight) },
        { name: `${base}.qzeros`, dtype: "i32", shape: [K / G, N / 8], chunks: chunksOf(q.qzeros) },
        { name: `${base}.scales`, dtype: "f16", shape: [K / G, N], chunks: chunksOf(q.scales) },
      ];
      if (!awq) tensors.push({ name: `${base}.g_idx`, dtype: "i32", shape: [K], chunks: chunksOf(Int32Array.from({ length: K }, (_, k) => Math.floor(k / G))) });
      return { tensors, widened: q.widened };
    },
  });
}
