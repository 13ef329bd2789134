// Host memory for the large buffers the CPU kernels stream through every step (packed weights, the
// KV cache): 2 MiB aligned, zero-filled, and marked for transparent huge pages. With 4 KiB pages a
// 2 GB weight stream takes a TLB miss every 4 KiB and ran at 27-29 GB/s on this project's 2-core
// machines, against 34-35 GB/s for the same read over huge pages (same machine, same minute).
#pragma once
#include <cstddef>

namespace tsv {

/** The transparent huge page size on x86-64: buffers from this size up go on huge pages. */
constexpr size_t kHugePageBytes = size_t(2) << 20;

/** nullptr when out of memory. Without huge pages (a kernel set to `never`) this is still valid memory. */
void* hostAllocLarge(size_t bytes);
/** Frees what hostAllocLarge returned; false (and nothing done) for any other pointer. */
bool hostFreeLarge(void* p);

}  // namespace tsv
