// OCP fp8 e4m3fn conversions, shared by tsvllm_cpu.h and tsvllm_cuda.cuh (which define TSV_INLINE,
// tsv_float_bits and tsv_bits_float for their side), bit-exact with dsl/dtype.ts.
#pragma once

// The 7 exponent+mantissa bits shifted into an f32 land 120 binades low for normals and subnormals
// alike, so one multiply by 2^120 finishes the decode; 0x7f/0xff are NaN.
TSV_INLINE float tsv_fp8e4m3_to_f32(uint8_t b) {
  const float f = tsv_bits_float(((uint32_t)(b & 0x80u) << 24) | ((uint32_t)(b & 0x7fu) << 20));
  return (b & 0x7fu) == 0x7fu ? tsv_bits_float(0x7fc00000u) : f * 0x1p120f;
}

// Round to nearest even, saturating at +-448 (e4m3fn has no infinities).
TSV_INLINE uint8_t tsv_f32_to_fp8e4m3(float v) {
  const uint32_t sign = (tsv_float_bits(v) >> 24) & 0x80u;
  const float a = fabsf(v);
  if (a != a) return (uint8_t)(sign | 0x7fu);
  if (a >= 448.0f) return (uint8_t)(sign | 0x7eu);
  if (a < 0.015625f) return (uint8_t)(sign | (uint32_t)rintf(a * 512.0f));
  int e;
  const float m = frexpf(a, &e);
  uint32_t q = (uint32_t)rintf(m * 16.0f) - 8u;
  uint32_t biased = (uint32_t)(e - 1 + 7);
  if (q == 8u) {
    q = 0u;
    biased++;
  }
  return (uint8_t)(sign | (biased << 3) | q);
}
