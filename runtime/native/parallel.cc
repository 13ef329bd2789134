// The CPU thread pool behind tsv_parallel_run (codegen/prelude/tsvllm_parallel.h): the calling
// thread plus tsv_num_threads() - 1 workers split each launch's programs in guided chunks (half of
// what is left over the thread count, so a core taken by another process leaves its share to the
// others instead of the launch waiting on a fixed split).
//
// Why not OpenMP: an engine step is a few hundred launches, and with the passive wait policy (a
// worker sleeping must not take a core from the JS thread) every launch woke a sleeping worker
// through the kernel and waited for it: about 8% of a TinyLlama decode step was idle cores. Here a
// worker spins for a short window after each launch, so the launches of one forward pass find it
// awake, and sleeps once the step is over and the JS thread has the machine: it never spins for
// longer than kSpinWindow against the JS thread.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

extern "C" int tsv_num_threads(void);

namespace {

using Clock = std::chrono::steady_clock;
using RangeFn = void (*)(void*, int64_t, int64_t);

/** How long an idle worker keeps polling for the next launch before it sleeps. The gaps between
 *  one forward pass's launches are microseconds; the JS work between engine steps is longer. */
constexpr auto kSpinWindow = std::chrono::microseconds(200);

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

class Pool {
 public:
  void run(int64_t n, RangeFn fn, void* ctx, int threads) {
    resize(threads - 1);
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    threads_ = threads;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    work();
    // Every worker takes part in every launch, so none can still be reading this launch's fields
    // when the next one overwrites them.
    while (pending_.load(std::memory_order_acquire) != 0) cpuRelax();
  }

 private:
  void work() {
    int64_t start = next_.load(std::memory_order_relaxed);
    for (;;) {
      int64_t chunk;
      do {
        if (start >= n_) return;
        chunk = std::max<int64_t>(1, (n_ - start) / (2 * threads_));
      } while (!next_.compare_exchange_weak(start, start + chunk, std::memory_order_relaxed));
      fn_(ctx_, start, std::min(n_, start + chunk));
      start = next_.load(std::memory_order_relaxed);
    }
  }

  void workerLoop(uint64_t seen) {
    for (;;) {
      seen = awaitLaunch(seen);
      if (stop_.load(std::memory_order_acquire)) return;
      work();
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  /** The epoch of the next launch after `seen`: polled for kSpinWindow, then slept for. */
  uint64_t awaitLaunch(uint64_t seen) {
    const auto deadline = Clock::now() + kSpinWindow;
    for (unsigned polls = 1;; polls++) {
      const uint64_t e = epoch_.load(std::memory_order_acquire);
      if (e != seen || stop_.load(std::memory_order_relaxed)) return e;
      cpuRelax();
      if (polls % 256 == 0 && Clock::now() > deadline) break;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    wake_.wait(lock, [&] { return epoch_.load(std::memory_order_seq_cst) != seen || stop_.load(std::memory_order_relaxed); });
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return epoch_.load(std::memory_order_acquire);
  }

  void resize(int numWorkers) {
    numWorkers = std::max(0, numWorkers);
    if (static_cast<int>(workers_.size()) == numWorkers) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_release);
      wake_.notify_all();
    }
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_.store(false, std::memory_order_release);
    const uint64_t now = epoch_.load(std::memory_order_relaxed);
    for (int i = 0; i < numWorkers; i++) workers_.emplace_back([this, now] { workerLoop(now); });
  }

  RangeFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int threads_ = 1;
  std::atomic<int64_t> next_{0};
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::thread> workers_;
};

// Never destroyed: workers may still be asleep on the pool when the process exits.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

std::atomic<bool> g_busy{false};
thread_local bool t_inLaunch = false;

}  // namespace

extern "C" void tsv_parallel_run(int64_t n, RangeFn fn, void* ctx) {
  const int threads = tsv_num_threads();
  // A launch from inside a launch, or from a second thread while the pool is busy, runs here.
  if (threads <= 1 || n <= 1 || t_inLaunch || g_busy.exchange(true, std::memory_order_acquire)) {
    fn(ctx, 0, n);
    return;
  }
  t_inLaunch = true;
  pool().run(n, fn, ctx, threads);
  t_inLaunch = false;
  g_busy.store(false, std::memory_order_release);
}
