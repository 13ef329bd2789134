// Memory where the kernels run: host memory in CPU builds, device memory in CUDA builds
// (memory_cpu.cc / memory_cuda.cc), so the model object and the kernel bindings are written once.
#pragma once
#include <cstddef>
#include <memory>

namespace tsv {

void* deviceAlloc(size_t bytes);  // zero-filled; nullptr when out of memory
void deviceFree(void* p);
void copyToDevice(void* dst, const void* src, size_t bytes);
void copyToHost(void* dst, const void* src, size_t bytes);
void copyOnDevice(void* dst, const void* src, size_t bytes);
/** Waits for queued work (CUDA); a no-op on CPU. */
void synchronize();
/** Whether kernels read host memory directly (so JS buffers can be used without a copy). */
bool kernelsReadHostMemory();

struct DeviceFree {
  void operator()(void* p) const { deviceFree(p); }
};
using DeviceMemory = std::unique_ptr<void, DeviceFree>;

inline DeviceMemory deviceBuffer(size_t bytes) { return DeviceMemory(deviceAlloc(bytes)); }

}  // namespace tsv
