// Warp-tiled tensor-core routines for dotTile's mma lowering (codegen/lower/threads.ts): operand
// chunks staged in shared memory as stored (f16/bf16 halves or e4m3 bytes), one row per tile row
// (A: rows x k, B: cols x k, STRIDE elements apart), f32 accumulators in registers. Fragment
// layouts are PTX's for mma.sync.aligned.m16n8k16 (f16, bf16) and m16n8k32 (e4m3), .row.col, with
// g = lane / 4, q = lane % 4, P elements per 32-bit register (2 halves, 4 bytes) and S = P * 4
// elements per register row (8 or 16):
//   A (16 x 4S): registers {A[g][Pq..Pq+P-1], A[g+8][Pq..], A[g][S+Pq..], A[g+8][S+Pq..]}
//   B (4S x 8, held as B^T rows): registers {Bt[g][Pq..Pq+P-1], Bt[g][S+Pq..]}
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

__device__ __forceinline__ void tsv_mma_16816_f16(float* d, const uint32_t* a, const uint32_t* b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void tsv_mma_16816_bf16(float* d, const uint32_t* a, const uint32_t* b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 890
__device__ __forceinline__ void tsv_mma_16832_e4m3(float* d, const uint32_t* a, const uint32_t* b) {
  asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#else
/** Bytes 0 and 1 (if hi, 2 and 3) of four e4m3 values as an f16 pair: the 7 exponent+mantissa bits
 *  land 8 binades low in f16's field, which one multiply by 256 puts right; exact, as every e4m3
 *  value is an f16 one. */
__device__ __forceinline__ uint32_t tsv_e4m3_pair_to_f16x2(uint32_t quad, bool hi) {
  const uint32_t pair = hi ? quad >> 16 : quad & 0xffffu;
  const uint32_t spread = (pair & 0xffu) | ((pair & 0xff00u) << 8);
  const uint32_t bits = ((spread & 0x00800080u) << 8) | ((spread & 0x007f007fu) << 7);
  const __half2 scaled = __hmul2(*reinterpret_cast<const __half2*>(&bits), __float2half2_rn(256.0f));
  return *reinterpret_cast<const uint32_t*>(&scaled);
}

/** Before sm_89 tensor cores have no e4m3 mma: the same m16n8k32 as two f16 m16n8k16, each lane's
 *  four k of a register pairing k 4q, 4q+1 with f16's 2q, 2q+1 and 4q+2, 4q+3 with 2q+8, 2q+9 in
 *  A and B alike, so every product still meets its partner. */
__device__ __forceinline__ void tsv_mma_16832_e4m3(float* d, const uint32_t* a, const uint32_t* b) {
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const uint32_t row = a[2 * half], rowBelow = a[2 * half + 1];
    const uint32_t ah[4] = {tsv_e4m3_pair_to_f16x2(row, false), tsv_e4m3_pair_to_f16x2(rowBelow, false), tsv_e4m3_pair_to_f16x2(row, true), tsv_e4m3_pair_to_f16x2(rowBelow, true)};
    const uint32_t bh[2] = {tsv_e4m3_pair_to_f16x2(b[half], false), tsv_e4m3_pair_to_f16x2(b[half], true)};
    tsv_mma_16816_f16(d, ah, bh);
  }
}
#endif

/** The operand types tensor cores take: storage element, k per mma and the mma itself. */
struct TsvMmaF16 {
  using Element = uint16_t;
  static constexpr int kStep = 16;
  static __device__ __forceinline__ void mma(float* d, const uint32_t* a, const uint32_t* b) { tsv_mma_16816_f16(d, a, b); }
};
struct TsvMmaBf16 {
  using Element = uint16_t;
  static constexpr int kStep = 16;
  static __device__ __forceinline__ void mma(float* d, const uint32_t* a, const uint32_t* b) { tsv_mma_16816_bf16(d, a, b); }
};
struct TsvMmaE4m3 {
  using Element = uint8_t;
  static constexpr int kStep = 32;
  static __device__ __forceinline__ void mma(float* d, const uint32_t* a, const uint32_t* b) { tsv_mma_16832_e4m3(d, a, b); }
};

/** P adjacent elements (the lowest k in the low bits) as one 32-bit register. */
template <class T>
__device__ __forceinline__ uint32_t tsv_mma_register(const T* p) { return *reinterpret_cast<const uint32_t*>(p); }

template <int WR, int WC, int WN, int KS, int STRIDE, class Op>
__device__ __forceinline__ void tsv_warp_mma(float* acc, const typename Op::Element* sa, const typename Op::Element* sb) {
  constexpr int P = 4 / (int)sizeof(typename Op::Element), S = Op::kStep / 2;
  const int lane = (int)threadIdx.x & 31, warp = (int)threadIdx.x >> 5;
  const int g = lane >> 2, q = lane & 3;
  const typename Op::Element* a0 = sa + ((warp / WN) * WR * 16 + g) * STRIDE + P * q;
  const typename Op::Element* b0 = sb + ((warp % WN) * WC * 8 + g) * STRIDE + P * q;
#pragma unroll
  for (int ks = 0; ks < KS; ++ks) {
    uint32_t a[WR][4];
    uint32_t b[WC][2];
#pragma unroll
    for (int i = 0; i < WR; ++i) {
      const typename Op::Element* p = a0 + i * 16 * STRIDE + ks * Op::kStep;
      a[i][0] = tsv_mma_register(p);
      a[i][1] = tsv_mma_register(p + 8 * STRIDE);
      a[i][2] = tsv_mma_register(p + S);
      a[i][3] = tsv_mma_register(p + 8 * STRIDE + S);
    }
#pragma unroll
    for (int j = 0; j < WC; ++j) {
      const typename Op::Element* p = b0 + j * 8 * STRIDE + ks * Op::kStep;
      b[j][0] = tsv_mma_register(p);
      b[j][1] = tsv_mma_register(p + S);
    }
#pragma unroll
    for (int i = 0; i < WR; ++i)
#pragma unroll
      for (int j = 0; j < WC; ++j) Op::mma(acc + (i * WC + j) * 4, a[i], b[j]);
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
