// The table the generated bindings hand to the addon core: every compiled kernel under its
// mangled name, with the uniform launch ABI (pointers, f64 scalars, int64 dims).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tsv {
using KernelFn = void (*)(void* const* ptrs, const double* scalars, const int64_t* dims);
struct KernelEntry {
  const char* name;
  KernelFn fn;
};
}  // namespace tsv

extern "C" const tsv::KernelEntry tsv_kernel_table[];
extern "C" const size_t tsv_kernel_count;
