// CPU builds: "device" memory is host memory: 64-byte aligned, and from 2 MiB up (the KV cache,
// which attention streams) on huge pages (host_memory.h).
#include <chrono>
#include <cstdlib>
#include <cstring>
#include "host_memory.h"
#include "memory.h"

namespace tsv {

void* deviceAlloc(size_t bytes) {
  if (bytes >= kHugePageBytes) return hostAllocLarge(bytes);
  const size_t rounded = bytes == 0 ? 64 : ((bytes + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p) std::memset(p, 0, rounded);
  return p;
}
void deviceFree(void* p) {
  if (!hostFreeLarge(p)) std::free(p);
}
void* pinnedHostAlloc(size_t bytes) { return hostAllocLarge(bytes); }
void pinnedHostFree(void* p) { hostFreeLarge(p); }
void copyToDevice(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void copyToHost(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void copyOnDevice(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
std::string synchronize() { return {}; }
bool kernelsReadHostMemory() { return true; }
std::string deviceMemory(size_t* free, size_t* total) {
  *free = *total = 0;
  return {};
}
// Kernels run as they are called: there is no queue to record.
void* computeStream() { return nullptr; }
void* captureGraph(void (*)(void*), void*) { return nullptr; }
void launchGraph(void*) {}
void destroyGraph(void*) {}

using Clock = std::chrono::steady_clock;
TimeMark::TimeMark() : handle_(new Clock::time_point()) {}
TimeMark::~TimeMark() { delete static_cast<Clock::time_point*>(handle_); }
void TimeMark::record() { *static_cast<Clock::time_point*>(handle_) = Clock::now(); }
double TimeMark::millisecondsSince(const TimeMark& earlier) const {
  return std::chrono::duration<double, std::milli>(*static_cast<Clock::time_point*>(handle_) - *static_cast<Clock::time_point*>(earlier.handle_)).count();
}

}  // namespace tsv
