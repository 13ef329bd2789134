// Warp-tiled tensor-core routines for dotTile's mma lowering (codegen/lower/threads.ts): operand
// chunks staged in shared memory as f16/bf16 bits, one row per tile row (A: rows x k, B: cols x k,
// STRIDE elements apart), f32 accumulators in registers. Fragment layouts are PTX's for
// mma.sync.aligned.m16n8k16.row.col with g = lane / 4, q = lane % 4:
//   A (16 x 16): registers {A[g][2q..2q+1], A[g+8][2q..], A[g][2q+8..], A[g+8][2q+8..]}
//   B (16 x 8, held as B^T rows): registers {Bt[g][2q..2q+1], Bt[g][2q+8..2q+9]}
//   C (16 x 8): c0, c1 = C[g][2q], C[g][2q+1]; c2, c3 = C[g+8][2q], C[g+8][2q+1]
// Warp w owns the WR x WC block of 16 x 8 tiles at tile row (w / WN) * WR, tile column (w % WN) * WC;
// its accumulators are ordered tile by tile (row-major over the block), four per tile. The emulator
// (codegen/lower/emulator.ts) implements the same contract.
#pragma once
#include <cstdint>

template <int N>
__device__ __forceinline__ void tsv_mma_zero(float* acc) {
#pragma unroll
  for (int i = 0; i < N; ++i) acc[i] = 0.0f;
}

template <bool BF16>
__device__ __forceinline__ void tsv_mma_16816(float* d, const uint32_t* a, const uint32_t* b);

template <>
__device__ __forceinline__ void tsv_mma_16816<false>(float* d, const uint32_t* a, const uint32_t* b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

template <>
__device__ __forceinline__ void tsv_mma_16816<true>(float* d, const uint32_t* a, const uint32_t* b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/** Two adjacent halves (the lower index in the low bits) as one 32-bit register. */
__device__ __forceinline__ uint32_t tsv_half_pair(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

template <int WR, int WC, int WN, int KS, int STRIDE, bool BF16>
__device__ __forceinline__ void tsv_warp_mma(float* acc, const uint16_t* sa, const uint16_t* sb) {
  const int lane = (int)threadIdx.x & 31, warp = (int)threadIdx.x >> 5;
  const int g = lane >> 2, q = lane & 3;
  const uint16_t* a0 = sa + ((warp / WN) * WR * 16 + g) * STRIDE + 2 * q;
  const uint16_t* b0 = sb + ((warp % WN) * WC * 8 + g) * STRIDE + 2 * q;
#pragma unroll
  for (int ks = 0; ks < KS; ++ks) {
    uint32_t a[WR][4];
    uint32_t b[WC][2];
#pragma unroll
    for (int i = 0; i < WR; ++i) {
      const uint16_t* p = a0 + i * 16 * STRIDE + ks * 16;
      a[i][0] = tsv_half_pair(p);
      a[i][1] = tsv_half_pair(p + 8 * STRIDE);
      a[i][2] = tsv_half_pair(p + 8);
      a[i][3] = tsv_half_pair(p + 8 * STRIDE + 8);
    }
#pragma unroll
    for (int j = 0; j < WC; ++j) {
      const uint16_t* p = b0 + j * 8 * STRIDE + ks * 16;
      b[j][0] = tsv_half_pair(p);
      b[j][1] = tsv_half_pair(p + 8);
    }
#pragma unroll
    for (int i = 0; i < WR; ++i)
#pragma unroll
      for (int j = 0; j < WC; ++j) tsv_mma_16816<BF16>(acc + (i * WC + j) * 4, a[i], b[j]);
  }
}

template <int WR, int WC, int WN>
__device__ __forceinline__ void tsv_warp_mma_store(const float* acc, float* c, int cols) {
  const int lane = (int)threadIdx.x & 31, warp = (int)threadIdx.x >> 5;
  const int g = lane >> 2, q = lane & 3;
  const int row0 = (warp / WN) * WR * 16 + g, col0 = (warp % WN) * WC * 8 + 2 * q;
#pragma unroll
  for (int i = 0; i < WR; ++i)
#pragma unroll
    for (int j = 0; j < WC; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) c[(row0 + i * 16 + 8 * (r >> 1)) * cols + col0 + j * 8 + (r & 1)] += acc[(i * WC + j) * 4 + r];
}
