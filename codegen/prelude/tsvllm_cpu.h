// Hand-written prelude for generated C++ kernels: dtype conversions (F16C when the compiler
// targets it, a portable bit-exact fallback otherwise), integer min/max, the thread count, and the
// 8-lane loads and horizontal sum that dotTile's AVX2/FMA micro-kernel uses (TSV_AVX2_TILES).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif

extern "C" int tsv_num_threads(void);

static inline int tsv_max_i(int a, int b) { return a > b ? a : b; }
static inline int tsv_min_i(int a, int b) { return a < b ? a : b; }

static inline float tsv_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static inline uint16_t tsv_f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(((bits >> 16) | 0x40u) & 0xffffu);
  return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

static inline float tsv_f16_to_f32(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
  if (exp == 0) {
    if (mant == 0) bits = sign;
    else {
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) { mant <<= 1; exp--; }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) bits = sign | 0x7f800000u | (mant << 13);
  else bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
#endif
}

static inline uint16_t tsv_f32_to_f16(float f) {
#if defined(__F16C__)
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t exp = (int32_t)((x >> 23) & 0xffu);
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0u));
  const int32_t e = exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    const uint32_t shift = (uint32_t)(14 - e), half = 1u << (shift - 1), rest = mant & ((1u << shift) - 1);
    uint32_t h = mant >> shift;
    if (rest > half || (rest == half && (h & 1u))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
  return (uint16_t)(sign | h);
#endif
}

// OCP fp8 e4m3fn: the 7 exponent+mantissa bits shifted into an f32 land 120 binades low for normals
// and subnormals alike, so one multiply by 2^120 finishes the decode; 0x7f/0xff are NaN.
static inline float tsv_fp8e4m3_to_f32(uint8_t b) {
  const uint32_t bits = ((uint32_t)(b & 0x80u) << 24) | ((uint32_t)(b & 0x7fu) << 20);
  float f;
  std::memcpy(&f, &bits, 4);
  return (b & 0x7fu) == 0x7fu ? NAN : f * 0x1p120f;
}

// Round to nearest even, saturating at +-448 (no infinities in e4m3fn), as dsl/dtype.ts does.
static inline uint8_t tsv_f32_to_fp8e4m3(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  const uint32_t sign = (bits >> 24) & 0x80u;
  const float a = fabsf(v);
  if (a != a) return (uint8_t)(sign | 0x7fu);
  if (a >= 448.0f) return (uint8_t)(sign | 0x7eu);
  if (a < 0.015625f) return (uint8_t)(sign | (uint32_t)rintf(a * 512.0f));
  int e;
  const float m = frexpf(a, &e);
  uint32_t q = (uint32_t)rintf(m * 16.0f) - 8u;
  uint32_t biased = (uint32_t)(e - 1 + 7);
  if (q == 8u) { q = 0u; biased++; }
  return (uint8_t)(sign | (biased << 3) | q);
}

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define TSV_AVX2_TILES 1
static inline __m256 tsv_load8_f32(const float* p) { return _mm256_loadu_ps(p); }
static inline __m256 tsv_load8_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
static inline __m256 tsv_load8_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
}
static inline float tsv_hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#else
#define TSV_AVX2_TILES 0
#endif
