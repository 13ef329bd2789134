// Hand-written prelude for generated CUDA kernels: bit-exact dtype conversions (the same rounding
// as the C++ prelude and the JS reference), integer min/max, and the block all-reduces (sum, max,
// min) whose order (butterfly shuffles within warps, then warps in index order) the emulator
// reproduces.
#pragma once
#include <cstdint>
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <math.h>

__host__ __device__ __forceinline__ int tsv_max_i(int a, int b) { return a > b ? a : b; }
__host__ __device__ __forceinline__ int tsv_min_i(int a, int b) { return a < b ? a : b; }

__device__ __forceinline__ float tsv_bf16_to_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

__device__ __forceinline__ uint16_t tsv_f32_to_bf16(float f) {
  const uint32_t bits = __float_as_uint(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(((bits >> 16) | 0x40u) & 0xffffu);
  return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float tsv_f16_to_f32(uint16_t h) { return __half2float(__ushort_as_half(h)); }
// dsl/primitives.ts floatKey: an int that orders as the float does.
__device__ __forceinline__ int tsv_float_key(float x) {
  const int bits = __float_as_int(x);
  return bits >= 0 ? bits : bits ^ 0x7fffffff;
}
__device__ __forceinline__ uint16_t tsv_f32_to_f16(float f) { return __half_as_ushort(__float2half_rn(f)); }

#define TSV_INLINE __device__ __forceinline__
TSV_INLINE uint32_t tsv_float_bits(float f) { return __float_as_uint(f); }
TSV_INLINE float tsv_bits_float(uint32_t bits) { return __uint_as_float(bits); }
#include "tsvllm_fp8.h"
#include "tsvllm_mma.cuh"

// Butterfly shuffles within each warp, then warp results combined in index order.
template <typename Combine>
__device__ __forceinline__ float tsv_block_all_reduce(float v, float* red, Combine combine) {
  for (int o = 16; o > 0; o >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  v = red[0];
  for (int w = 1; w < (int)(blockDim.x >> 5); ++w) v = combine(v, red[w]);
  __syncthreads();
  return v;
}

struct TsvSum { __device__ float operator()(float a, float b) const { return a + b; } };
struct TsvMax { __device__ float operator()(float a, float b) const { return fmaxf(a, b); } };
struct TsvMin { __device__ float operator()(float a, float b) const { return fminf(a, b); } };

// V consecutive elements from src into dst in 4- to 16-byte loads (codegen/emit/cuda-vector-loads.ts
// emits it only where src is aligned to the load: a cudaMalloc'd buffer at a multiple of V).
template <int V, class T>
__device__ __forceinline__ void tsv_load_vector(T* dst, const T* src) {
  constexpr int bytes = V * (int)sizeof(T);
  static_assert(bytes % 4 == 0 && bytes <= 32, "vector loads move 4 to 32 bytes");
  if constexpr (bytes % 16 == 0) {
    for (int i = 0; i < bytes / 16; i++) reinterpret_cast<uint4*>(dst)[i] = __ldg(reinterpret_cast<const uint4*>(src) + i);
  } else if constexpr (bytes == 8) {
    *reinterpret_cast<uint2*>(dst) = __ldg(reinterpret_cast<const uint2*>(src));
  } else {
    for (int i = 0; i < bytes / 4; i++) reinterpret_cast<unsigned*>(dst)[i] = __ldg(reinterpret_cast<const unsigned*>(src) + i);
  }
}

__device__ __forceinline__ float tsv_block_all_reduce_sum(float v, float* red) { return tsv_block_all_reduce(v, red, TsvSum()); }
__device__ __forceinline__ float tsv_block_all_reduce_max(float v, float* red) { return tsv_block_all_reduce(v, red, TsvMax()); }
__device__ __forceinline__ float tsv_block_all_reduce_min(float v, float* red) { return tsv_block_all_reduce(v, red, TsvMin()); }
