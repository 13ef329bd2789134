// Quantization of f32 rows into GGUF's Q8_0 and Q4_0 blocks (32 values each, along a row), as
// llama.cpp's reference quantizers define them (ggml-quants.c; formats in ggml-common.h):
//   Q8_0: d = max|x| / 127, q = x / d rounded half away from zero (C's roundf), as int8;
//         block = f16 d, int8 q[32].
//   Q4_0: m = the value of largest magnitude (sign kept), d = m / -8, q = min(15, trunc(x / d + 8.5));
//         block = f16 d, 16 bytes whose low nibbles hold q[0..15] and high nibbles q[16..31].
// The loader's dequantizer (runtime/loader/gguf-quants.ts) reads them back: x = d * q, d * (q - 8).
import { f32ToF16Bits } from "../../dsl/dtype.ts";
import { q4_0, q8_0 } from "../../runtime/loader/gguf-quants.ts";

export type GgufQuant = "q8_0" | "q4_0";

const quantBlockBytes: Record<GgufQuant, number> = { q8_0: q8_0.bytesPerBlock, q4_0: q4_0.bytesPerBlock };

/** Whole rows of f32 values (a multiple of 32 long) as blocks of the format. */
export function quantizeRows(values: Float32Array, quant: GgufQuant): Uint8Array {
  if (values.length % 32 !== 0) throw new RangeError(`${values.length} values is not a whole number of 32-value blocks`);
  const blocks = values.length / 32;
  const out = new Uint8Array(blocks * quantBlockBytes[quant]);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const x = values.subarray(32 * b, 32 * b + 32);
    const at = b * quantBlockBytes[quant];
    if (quant === "q8_0") {
      const amax = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const d = amax / 127;
      const inverse = d === 0 ? 0 : 1 / d;
      view.setUint16(at, f32ToF16Bits(d), true);
      for (let j = 0; j < 32; j++) view.setInt8(at + 2 + j, Math.sign(x[j]) * Math.round(Math.abs(x[j] * inverse)));
    } else {
      const m = x.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
      const d = m / -8;
      const inverse = d === 0 ? 0 : 1 / d;
      const q = (v: number) => Math.min(15, Math.trunc(v * inverse + 8.5));
      view.setUint16(at, f32ToF16Bits(d), true);
      for (let j = 0; j < 16; j++) out[at + 2 + j] = q(x[j]) | (q(x[j + 16]) << 4);
    }
  }
  return out;
}
