// Hand-written prelude for generated C++ kernels: dtype conversions (F16C when the compiler
// targets it, a portable bit-exact fallback otherwise), integer min/max, the thread count, and the
// 8- and 16-lane loads and horizontal sums that dotTile's AVX2 and AVX-512 micro-kernels use
// (TSV_AVX2_TILES, TSV_AVX512_TILES).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "tsvllm_parallel.h"

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

// dsl/primitives.ts floatKey: an int that orders as the float does.
static inline int tsv_float_key(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, 4);
  return bits >= 0 ? bits : bits ^ 0x7fffffff;
}

// Pure integer and float arithmetic, no branches and no scalar intrinsics, so GCC vectorises it
// inside matmul and attention loops (F16C's _cvtsh_ss is scalar and blocks vectorisation). Shifting
// the exponent and mantissa into f32 position and scaling by 2^112 rebases the exponent bias
// (15 -> 127) and normalises subnormals exactly; values that land at or above 2^16 were inf/NaN.
static inline float tsv_f16_to_f32(uint16_t h) {
  const uint32_t shifted = (uint32_t)(h & 0x7fffu) << 13;
  float magnitude;
  std::memcpy(&magnitude, &shifted, 4);
  magnitude *= 5.192296858534828e+33f;  // 2^112
  uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  bits |= (magnitude >= 65536.0f) ? 0x7f800000u : 0u;
  bits |= (uint32_t)(h & 0x8000u) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
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

// max/min as the JS reference computes them (Math.max/min: a NaN operand gives NaN), written as
// compares so GCC emits vmaxss/vminss and vectorises them: fmaxf/fminf, whose NaN rule differs, are
// libm calls unless -ffinite-math-only (7% of a small model's step, in attention's running max).
static inline float tsv_maxf(float a, float b) { return (a > b || a != a) ? a : b; }
static inline float tsv_minf(float a, float b) { return (a < b || a != a) ? a : b; }

// exp for generated loops: branch-free, so GCC vectorises the loops that call it (glibc's expf
// only vectorises under -ffast-math), within 2 ulp of expf. exp(x) = 2^n exp(r) with
// n = round(x / ln 2) and r = x - n ln 2 in two parts (Cody-Waite), |r| <= ln(2) / 2, where the
// degree-7 Taylor polynomial's truncation error (r^8 / 8!) is below 2^-27; 2^n is applied as two
// halves so n = 128 (x just below the overflow threshold) stays representable. Overflow gives
// +inf and NaN stays NaN as in expf; results below f32's smallest normal (x < -87.3) flush to 0.
static inline float tsv_expf(float x) {
  const float clamped = x < -87.3f ? -87.3f : (x > 88.75f ? 88.75f : x);
  const float n = rintf(clamped * 1.44269504f);
  float r = clamped - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float poly = 1.0f / 5040.0f;
  poly = poly * r + 1.0f / 720.0f;
  poly = poly * r + 1.0f / 120.0f;
  poly = poly * r + 1.0f / 24.0f;
  poly = poly * r + 1.0f / 6.0f;
  poly = poly * r + 0.5f;
  poly = poly * r + 1.0f;
  poly = poly * r + 1.0f;
  const int32_t half = (int32_t)n >> 1;
  const uint32_t lowBits = (uint32_t)(half + 127) << 23, highBits = (uint32_t)((int32_t)n - half + 127) << 23;
  float low, high;
  std::memcpy(&low, &lowBits, 4);
  std::memcpy(&high, &highBits, 4);
  const float result = poly * low * high;
  return x != x ? x : (x < -87.3f ? 0.0f : result);
}

#define TSV_INLINE static inline
TSV_INLINE uint32_t tsv_float_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}
TSV_INLINE float tsv_bits_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
#include "tsvllm_fp8.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define TSV_AVX2_TILES 1
static inline __m256 tsv_load8_f32(const float* p) { return _mm256_loadu_ps(p); }
static inline __m256 tsv_load8_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
static inline __m256 tsv_load8_bf16(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
}
// The vector terms of dotTile's broadcast form (codegen/emit/cpp-vector-term.ts): integer panels
// widened to i32 lanes, integer ops, the conversion to f32, and float arithmetic.
static inline __m256i tsv_load8_i8(const int8_t* p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)p)); }
static inline __m256i tsv_load8_u8(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)p)); }
static inline __m256 tsv_splat8(float v) { return _mm256_set1_ps(v); }
static inline __m256i tsv_splat8_i32(int v) { return _mm256_set1_epi32(v); }
static inline __m256 tsv_cvt8(__m256i v) { return _mm256_cvtepi32_ps(v); }
static inline __m256i tsv_and8(__m256i a, __m256i b) { return _mm256_and_si256(a, b); }
static inline __m256i tsv_addi8(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
static inline __m256i tsv_subi8(__m256i a, __m256i b) { return _mm256_sub_epi32(a, b); }
#define tsv_srai8(v, n) _mm256_srai_epi32((v), (n))
static inline __m256i tsv_srav8(__m256i v, __m256i n) { return _mm256_srav_epi32(v, n); }
#define tsv_slli8(v, n) _mm256_slli_epi32((v), (n))
static inline __m256 tsv_add8(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
static inline __m256 tsv_sub8(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
static inline __m256 tsv_mul8(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
static inline __m256 tsv_fmadd8(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
static inline __m256 tsv_fmsub8(__m256 a, __m256 b, __m256 c) { return _mm256_fmsub_ps(a, b, c); }
static inline float tsv_hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#else
#define TSV_AVX2_TILES 0
#endif

// Where the target has AVX-512 the tiles run 16 lanes wide with 32 registers (twice the FMA work
// per instruction; TSV_AVX2_TILES stays 1 there, for tiles whose width 16 does not divide).
#if TSV_AVX2_TILES && defined(__AVX512F__)
#define TSV_AVX512_TILES 1
// The zero-masked forms with every lane kept: GCC 12's unmasked ones pass an "undefined" vector
// that -Wmaybe-uninitialized (an error here) reports at every inlined use.
static inline __m512 tsv_load16_f32(const float* p) { return _mm512_loadu_ps(p); }
static inline __m512 tsv_load16_f16(const uint16_t* p) { return _mm512_maskz_cvtph_ps((__mmask16)0xffff, _mm256_loadu_si256((const __m256i*)p)); }
static inline __m512 tsv_load16_bf16(const uint16_t* p) {
  const __m512i wide = _mm512_maskz_cvtepu16_epi32((__mmask16)0xffff, _mm256_loadu_si256((const __m256i*)p));
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32((__mmask16)0xffff, wide, 16));
}
static inline __m512i tsv_load16_i8(const int8_t* p) { return _mm512_maskz_cvtepi8_epi32((__mmask16)0xffff, _mm_loadu_si128((const __m128i*)p)); }
static inline __m512i tsv_load16_u8(const uint8_t* p) { return _mm512_maskz_cvtepu8_epi32((__mmask16)0xffff, _mm_loadu_si128((const __m128i*)p)); }
static inline __m512 tsv_splat16(float v) { return _mm512_set1_ps(v); }
static inline __m512i tsv_splat16_i32(int v) { return _mm512_set1_epi32(v); }
static inline __m512 tsv_cvt16(__m512i v) { return _mm512_maskz_cvtepi32_ps((__mmask16)0xffff, v); }
static inline __m512i tsv_and16(__m512i a, __m512i b) { return _mm512_and_si512(a, b); }
static inline __m512i tsv_addi16(__m512i a, __m512i b) { return _mm512_add_epi32(a, b); }
static inline __m512i tsv_subi16(__m512i a, __m512i b) { return _mm512_sub_epi32(a, b); }
#define tsv_srai16(v, n) _mm512_maskz_srai_epi32((__mmask16)0xffff, (v), (n))
static inline __m512i tsv_srav16(__m512i v, __m512i n) { return _mm512_maskz_srav_epi32((__mmask16)0xffff, v, n); }
#define tsv_slli16(v, n) _mm512_maskz_slli_epi32((__mmask16)0xffff, (v), (n))
static inline __m512 tsv_add16(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
static inline __m512 tsv_sub16(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
static inline __m512 tsv_mul16(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
static inline __m512 tsv_fmadd16(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
static inline __m512 tsv_fmsub16(__m512 a, __m512 b, __m512 c) { return _mm512_fmsub_ps(a, b, c); }
static inline float tsv_hsum16(__m512 v) {
  const __m256 low = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd((__mmask8)0xff, _mm512_castps_pd(v), 0));
  const __m256 high = _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd((__mmask8)0xff, _mm512_castps_pd(v), 1));
  return tsv_hsum8(_mm256_add_ps(low, high));
}
#else
#define TSV_AVX512_TILES 0
#endif
