// The CPU thread count every generated parallel loop uses; set from JS (--threads / LLM option).
#include <atomic>
#include <thread>

static std::atomic<int> g_num_threads{0};

extern "C" int tsv_num_threads(void) {
  int n = g_num_threads.load(std::memory_order_relaxed);
  if (n <= 0) {
    const unsigned hw = std::thread::hardware_concurrency();
    n = hw > 0 ? (int)hw : 1;
  }
  return n;
}

extern "C" void tsv_set_num_threads(int n) { g_num_threads.store(n, std::memory_order_relaxed); }
