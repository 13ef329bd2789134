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
void* pinnedHostAlloc(size_t bytes) {
  void* p = nullptr;
  if (cudaMallocHost(&p, bytes == 0 ? 64 : bytes) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return p;
}
void pinnedHostFree(void* p) { cudaFreeHost(p); }
void copyToDevice(void* dst, const void* src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice); }
void copyToHost(void* dst, const void* src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost); }
void copyOnDevice(void* dst, const void* src, size_t bytes) { cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice); }
std::string synchronize() {
  cudaError_t e = cudaDeviceSynchronize();
  if (e == cudaSuccess) e = cudaGetLastError();
  return e == cudaSuccess ? std::string() : std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}
bool kernelsReadHostMemory() { return false; }
std::string deviceMemory(size_t* free, size_t* total) {
  *free = *total = 0;
  const cudaError_t e = cudaMemGetInfo(free, total);  // also creates the context on first use
  if (e == cudaSuccess) return {};
  cudaGetLastError();
  return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
}

void* computeStream() {
  // Blocking (default flags), so it stays ordered with the synchronous copies on the legacy stream.
  static cudaStream_t stream = [] {
    cudaStream_t s = nullptr;
    cudaStreamCreate(&s);
    return s;
  }();
  return stream;
}

void* captureGraph(void (*enqueue)(void*), void* context) {
  cudaStream_t stream = static_cast<cudaStream_t>(computeStream());
  // Thread-local mode: only this thread's calls are captured or can invalidate the capture.
  if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  enqueue(context);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  cudaError_t e = cudaStreamEndCapture(stream, &graph);
  if (e == cudaSuccess) e = cudaGraphInstantiate(&exec, graph, 0);
  if (graph) cudaGraphDestroy(graph);
  if (e != cudaSuccess) {
    cudaGetLastError();  // a failed capture falls back to direct launches; it is not a device error
    return nullptr;
  }
  return exec;
}
void launchGraph(void* graph) { cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), static_cast<cudaStream_t>(computeStream())); }
void destroyGraph(void* graph) { cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph)); }

TimeMark::TimeMark() : handle_(nullptr) {
  cudaEvent_t e = nullptr;
  cudaEventCreate(&e);
  handle_ = e;
}
TimeMark::~TimeMark() { cudaEventDestroy(static_cast<cudaEvent_t>(handle_)); }
void TimeMark::record() { cudaEventRecord(static_cast<cudaEvent_t>(handle_), static_cast<cudaStream_t>(computeStream())); }
double TimeMark::millisecondsSince(const TimeMark& earlier) const {
  float ms = 0;
  cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(earlier.handle_), static_cast<cudaEvent_t>(handle_));
  return ms;
}

}  // namespace tsv
