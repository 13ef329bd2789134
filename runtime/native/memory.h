// Memory where the kernels run: host memory in CPU builds, device memory in CUDA builds
// (memory_cpu.cc / memory_cuda.cc), so the model object and the kernel bindings are written once.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace tsv {

void* deviceAlloc(size_t bytes);  // zero-filled; nullptr when out of memory
void deviceFree(void* p);
void copyToDevice(void* dst, const void* src, size_t bytes);
void copyToHost(void* dst, const void* src, size_t bytes);
void copyOnDevice(void* dst, const void* src, size_t bytes);
/** Waits for queued work and returns the first error the device reported since the last call
 *  (a failed launch, a fault in a kernel), empty when none: CUDA reports launch errors only when
 *  asked, so every caller that hands results back to JS checks. Always empty on CPU. */
std::string synchronize();
/** The device's free and total memory in bytes, or why there is no usable device (empty when
 *  there is one). CPU builds have no device memory: zeros, and no error. */
std::string deviceMemory(size_t* free, size_t* total);
/** Host memory that copyToHost and copyToDevice move at full speed (page-locked in CUDA builds,
 *  huge pages on CPU): the swap space for preempted sequences' KV. nullptr when out of memory. */
void* pinnedHostAlloc(size_t bytes);
void pinnedHostFree(void* p);
/** Whether kernels read host memory directly (so JS buffers can be used without a copy). */
bool kernelsReadHostMemory();

/** The stream a step's kernels are queued on: a created one in CUDA builds (a graph cannot be
 *  captured from the legacy default stream), nullptr on CPU. */
void* computeStream();
/** Records what `enqueue` queues on computeStream() as a CUDA graph, instantiated and not yet run;
 *  nullptr where there are no graphs (CPU builds) or the capture failed, and the caller then runs
 *  the work directly. */
void* captureGraph(void (*enqueue)(void* context), void* context);
/** Queues a captured graph on computeStream(). */
void launchGraph(void* graph);
void destroyGraph(void* graph);

/** A point in the device's queue of work (a CUDA event; a clock reading on CPU, where kernels
 *  run synchronously), for timing kernels in order without synchronising between them. */
class TimeMark {
 public:
  TimeMark();
  ~TimeMark();
  TimeMark(const TimeMark&) = delete;
  TimeMark& operator=(const TimeMark&) = delete;
  void record();
  /** Milliseconds of device time from `earlier` to this mark; both recorded, and synchronize() called since. */
  double millisecondsSince(const TimeMark& earlier) const;

 private:
  void* handle_;
};

struct DeviceFree {
  void operator()(void* p) const { deviceFree(p); }
};
using DeviceMemory = std::unique_ptr<void, DeviceFree>;

inline DeviceMemory deviceBuffer(size_t bytes) { return DeviceMemory(deviceAlloc(bytes)); }

struct PinnedHostFree {
  void operator()(void* p) const { pinnedHostFree(p); }
};
using PinnedHostMemory = std::unique_ptr<void, PinnedHostFree>;

struct GraphDestroy {
  void operator()(void* g) const { destroyGraph(g); }
};
using Graph = std::unique_ptr<void, GraphDestroy>;

}  // namespace tsv
