// The CPU thread count every generated parallel loop uses; set from JS (--threads / LLM option).
#include <atomic>
#include <thread>

static std::atomic<int> g_num_threads{0};

// hardware_concurrency() opens /sys/devices/system/cpu/online on every call (glibc get_nprocs);
// every launch asks for the thread count, so the answer is read once.
static int hardware_threads() {
  static const int n = [] {
    const unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? (int)hw : 1;
  }();
  return n;
}

extern "C" int tsv_num_threads(void) {
  const int n = g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : hardware_threads();
}

extern "C" void tsv_set_num_threads(int n) { g_num_threads.store(n, std::memory_order_relaxed); }
