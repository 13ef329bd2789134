// The CPU's parallel loop: tsv_parallel_for(n, parallel, body) runs body(i) for i in [0, n) on
// the runtime's thread pool (runtime/native/parallel.cc) when `parallel` holds, on the calling
// thread otherwise. Generated kernels, the sampler and the weight packer all use it, so one pool
// of workers serves every launch of an engine step.
#pragma once
#include <cstdint>

extern "C" {
/** Runs fn(ctx, begin, end) over disjoint ranges that cover [0, n) exactly once, on the pool. */
void tsv_parallel_run(int64_t n, void (*fn)(void* ctx, int64_t begin, int64_t end), void* ctx);
}

template <typename Body>
static inline void tsv_parallel_for(int64_t n, bool parallel, Body& body) {
  if (!parallel || n <= 1) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
  tsv_parallel_run(
      n,
      [](void* ctx, int64_t begin, int64_t end) {
        Body& b = *static_cast<Body*>(ctx);
        for (int64_t i = begin; i < end; ++i) b(i);
      },
      &body);
}
