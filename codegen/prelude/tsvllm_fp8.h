// OCP fp8 e4m3fn and e5m2 conversions, shared by tsvllm_cpu.h and tsvllm_cuda.cuh (which define TSV_INLINE,
// tsv_float_bits and tsv_bits_float for their side), bit-exact with dsl/dtype.ts.
#pragma once

// The 7 exponent+mantissa bits shifted into an f32 land 120 binades low for normals and subnormals
// alike, so one multiply by 2^120 finishes the decode; 0x7f/0xff are NaN.
TSV_INLINE float tsv_fp8e4m3_to_f32(uint8_t b) {
  const float f = tsv_bits_float(((uint32_t)(b & 0x80u) << 24) | ((uint32_t)(b & 0x7fu) << 20));
  return (b & 0x7fu) == 0x7fu ? tsv_bits_float(0x7fc00000u) : f * 0x1p120f;
}

// f32 -> an fp8 format with M mantissa bits and exponent bias BIAS, rounding to nearest even on the
// f32's bits, saturating at the largest finite code (from the f32 bits MAX_F32 up), NaN to NAN_CODE:
// no frexpf, so the loops that write fp8 (KV cache writes, load-time quantization) vectorise. Below
// the smallest normal the step is one subnormal, so |v| over it rounds to the bits; above, M of
// the 23 mantissa bits stay and a carry moves into the exponent.
template <int M, int BIAS, uint32_t MAX_F32, uint32_t MAX_CODE, uint32_t NAN_CODE>
TSV_INLINE uint8_t tsv_f32_to_fp8(float v) {
  const uint32_t bits = tsv_float_bits(v);
  const uint32_t sign = (bits >> 24) & 0x80u, magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return (uint8_t)(sign | NAN_CODE);
  if (magnitude >= MAX_F32) return (uint8_t)(sign | MAX_CODE);
  if (magnitude < ((uint32_t)(128 - BIAS) << 23)) return (uint8_t)(sign | (uint32_t)rintf(tsv_bits_float(magnitude) * tsv_bits_float((uint32_t)(126 + BIAS + M) << 23)));
  constexpr int drop = 23 - M;
  const uint32_t rounded = ((magnitude + ((1u << (drop - 1)) - 1u) + ((magnitude >> drop) & 1u)) >> drop) - ((uint32_t)(127 - BIAS) << M);
  return (uint8_t)(sign | (rounded < MAX_CODE ? rounded : MAX_CODE));
}

// e4m3fn saturates at +-448 (it has no infinities); 0x7f is its NaN.
TSV_INLINE uint8_t tsv_f32_to_fp8e4m3(float v) { return tsv_f32_to_fp8<3, 7, 0x43e00000u, 0x7eu, 0x7fu>(v); }

// e5m2 is f16's top byte: widening shifts it back (tsv_f16_to_f32 is each side's exact f16).
TSV_INLINE float tsv_fp8e5m2_to_f32(uint8_t b) { return tsv_f16_to_f32((uint16_t)((uint16_t)b << 8)); }

// e5m2 saturates at +-57344 (CUDA's __NV_SATFINITE, as vLLM's fp8_e5m2 cache); 0x7e is f16's NaN's top byte.
TSV_INLINE uint8_t tsv_f32_to_fp8e5m2(float v) { return tsv_f32_to_fp8<2, 15, 0x47600000u, 0x7bu, 0x7eu>(v); }
