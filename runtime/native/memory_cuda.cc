// CUDA builds: device memory through the CUDA runtime (linked statically, so the addon needs only
// the driver). Plain cudaMalloc, never managed memory.
#include <cuda_runtime.h>
#include "memory.h"

namespace tsv {

void* deviceAlloc(size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes == 0 ? 64 : bytes) != cudaSuccess) {
    cudaGetLastError();  // clears the failure, so the next synchronize() does not report it again
    return nullptr;
  }
  cudaMemset(p, 0, bytes == 0 ? 64 : bytes);
  return p;
}
void deviceFree(void* p) { cudaFree(p); }
void copyToDevice(void* dst, const void* src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice); }
void copyToHost(void* dst, const void* src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost); }
void copyOnDevice(void* dst, const void* src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice); }
std::string synchronize() {
  cudaError_t e = cudaDeviceSynchronize();
  if (e == cudaSuccess) e = cudaGetLastError();
  return e == cudaSuccess ? std::string() : std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}
bool kernelsReadHostMemory() { return false; }

TimeMark::TimeMark() : handle_(nullptr) {
  cudaEvent_t e = nullptr;
  cudaEventCreate(&e);
  handle_ = e;
}
TimeMark::~TimeMark() { cudaEventDestroy(static_cast<cudaEvent_t>(handle_)); }
void TimeMark::record() { cudaEventRecord(static_cast<cudaEvent_t>(handle_), nullptr); }
double TimeMark::millisecondsSince(const TimeMark& earlier) const {
  float ms = 0;
  cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(earlier.handle_), static_cast<cudaEvent_t>(handle_));
  return ms;
}

}  // namespace tsv
