// OCP fp8 e4m3fn conversions, shared by tsvllm_cpu.h and tsvllm_cuda.cuh (which define TSV_INLINE,
// tsv_float_bits and tsv_bits_float for their side), bit-exact with dsl/dtype.ts.
#pragma once

// The 7 exponent+mantissa bits shifted into an f32 land 120 binades low for normals and subnormals
// alike, so one multiply by 2^120 finishes the decode; 0x7f/0xff are NaN.
TSV_INLINE float tsv_fp8e4m3_to_f32(uint8_t b) {
  const float f = tsv_bits_float(((uint32_t)(b & 0x80u) << 24) | ((uint32_t)(b & 0x7fu) << 20));
  return (b & 0x7fu) == 0x7fu ? tsv_bits_float(0x7fc00000u) : f * 0x1p120f;
}

// Round to nearest even, saturating at +-448 (e4m3fn has no infinities), on the f32's bits: no
// frexpf, so the loops that write fp8 (KV cache writes, load-time quantization) vectorise. Below 2^-6
// the step is 2^-9, so |v| * 2^9 rounds to the bits (8 is the first normal's); above, 3 of the 23
// mantissa bits stay and a carry moves into the exponent.
TSV_INLINE uint8_t tsv_f32_to_fp8e4m3(float v) {
  const uint32_t bits = tsv_float_bits(v);
  const uint32_t sign = (bits >> 24) & 0x80u, magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return (uint8_t)(sign | 0x7fu);
  if (magnitude >= 0x43e00000u) return (uint8_t)(sign | 0x7eu);
  if (magnitude < 0x3c800000u) return (uint8_t)(sign | (uint32_t)rintf(tsv_bits_float(magnitude) * 512.0f));
  const uint32_t rounded = ((magnitude + 0x7ffffu + ((magnitude >> 20) & 1u)) >> 20) - ((127u - 7u) << 3);
  return (uint8_t)(sign | (rounded < 0x7eu ? rounded : 0x7eu));
}
