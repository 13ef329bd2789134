// CUDA builds: device memory through the CUDA runtime (linked statically, so the addon needs only
// the driver). Plain cudaMalloc, never managed memory.
#include <cuda_runtime.h>
#include "memory.h"

namespace tsv {

void* deviceAlloc(size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes == 0 ? 64 : bytes) != cudaSuccess) return nullptr;
  cudaMemset(p, 0, bytes == 0 ? 64 : bytes);
  return p;
}
void deviceFree(void* p) { cudaFree(p); }
void copyToDevice(void* dst, const void* src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice); }
void copyToHost(void* dst, const void* src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost); }
void copyOnDevice(void* dst, const void* src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice); }
void synchronize() { cudaDeviceSynchronize(); }
bool kernelsReadHostMemory() { return false; }

}  // namespace tsv
