// The table the generated bindings hand to the addon core: every compiled kernel under its
// mangled name, with the uniform launch ABI (pointers, f64 scalars, int64 dims; CUDA kernels also
// take the stream they are launched on).
#pragma once
#include <cstddef>
#include <cstdint>
#ifdef TSV_CUDA
#include <cuda_runtime.h>
#endif

namespace tsv {
#ifdef TSV_CUDA
using KernelFn = void (*)(void* const* ptrs, const double* scalars, const int64_t* dims, cudaStream_t stream);
#else
using KernelFn = void (*)(void* const* ptrs, const double* scalars, const int64_t* dims);
#endif
struct KernelEntry {
  const char* name;
  KernelFn fn;
};
}  // namespace tsv

extern "C" const tsv::KernelEntry tsv_kernel_table[];
extern "C" const size_t tsv_kernel_count;
