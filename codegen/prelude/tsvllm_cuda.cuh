// Hand-written prelude for generated CUDA kernels: bit-exact dtype conversions (the same rounding
// as the C++ prelude and the JS reference), integer min/max, and the block all-reduces (sum, max,
// min) whose order (butterfly shuffles within warps, then warps in index order) the emulator
// reproduces.
#pragma once
#include <cstdint>
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <math.h>

__device__ __forceinline__ int tsv_max_i(int a, int b) { return a > b ? a : b; }
__device__ __forceinline__ int tsv_min_i(int a, int b) { return a < b ? a : b; }

__device__ __forceinline__ float tsv_bf16_to_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

__device__ __forceinline__ uint16_t tsv_f32_to_bf16(float f) {
  const uint32_t bits = __float_as_uint(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(((bits >> 16) | 0x40u) & 0xffffu);
  return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float tsv_f16_to_f32(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ uint16_t tsv_f32_to_f16(float f) { return __half_as_ushort(__float2half_rn(f)); }

// fp8 e4m3fn, as in tsvllm_cpu.h: decode by shifting into f32 and scaling by 2^120; encode with
// round-to-nearest-even, saturating at +-448.
__device__ __forceinline__ float tsv_fp8e4m3_to_f32(uint8_t b) {
  const float f = __uint_as_float(((uint32_t)(b & 0x80u) << 24) | ((uint32_t)(b & 0x7fu) << 20));
  return (b & 0x7fu) == 0x7fu ? __int_as_float(0x7fc00000) : f * 0x1p120f;
}

__device__ __forceinline__ uint8_t tsv_f32_to_fp8e4m3(float v) {
  const uint32_t sign = (__float_as_uint(v) >> 24) & 0x80u;
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

__device__ __forceinline__ float tsv_block_all_reduce_sum(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v = v + __shfl_xor_sync(0xffffffffu, v, o);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  v = red[0];
  for (int w = 1; w < (int)(blockDim.x >> 5); ++w) v = v + red[w];
  __syncthreads();
  return v;
}

__device__ __forceinline__ float tsv_block_all_reduce_max(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  v = red[0];
  for (int w = 1; w < (int)(blockDim.x >> 5); ++w) v = fmaxf(v, red[w]);
  __syncthreads();
  return v;
}

__device__ __forceinline__ float tsv_block_all_reduce_min(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v = fminf(v, __shfl_xor_sync(0xffffffffu, v, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  v = red[0];
  for (int w = 1; w < (int)(blockDim.x >> 5); ++w) v = fminf(v, red[w]);
  __syncthreads();
  return v;
}
