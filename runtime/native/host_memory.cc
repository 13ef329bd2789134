// Huge-page host buffers (host_memory.h), and allocateHostBuffer(bytes) for JS: an ArrayBuffer over
// such memory, freed when the ArrayBuffer is collected (the weight panels are packed into these).
#include "host_memory.h"
#include <napi.h>
#include <sys/mman.h>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace tsv {
namespace {

std::mutex g_mutex;
std::unordered_map<void*, size_t>& mappings() {
  static auto* m = new std::unordered_map<void*, size_t>();
  return *m;
}

}  // namespace

void* hostAllocLarge(size_t bytes) {
  const size_t length = ((bytes == 0 ? 1 : bytes) + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  // Map one huge page more than asked, then trim both ends so the mapping starts on a huge page.
  void* raw = mmap(nullptr, length + kHugePageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  if (aligned > start) munmap(raw, aligned - start);
  if (aligned < start + kHugePageBytes) munmap(reinterpret_cast<void*>(aligned + length), start + kHugePageBytes - aligned);
  void* p = reinterpret_cast<void*>(aligned);
  madvise(p, length, MADV_HUGEPAGE);  // a hint: where the kernel refuses it, 4 KiB pages still work
  std::lock_guard<std::mutex> lock(g_mutex);
  mappings()[p] = length;
  return p;
}

bool hostFreeLarge(void* p) {
  size_t length;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = mappings().find(p);
    if (it == mappings().end()) return false;
    length = it->second;
    mappings().erase(it);
  }
  munmap(p, length);
  return true;
}

}  // namespace tsv

namespace {

Napi::Value allocateHostBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 0) {
    Napi::TypeError::New(env, "allocateHostBuffer(bytes) expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const size_t bytes = static_cast<size_t>(info[0].As<Napi::Number>().Int64Value());
  void* p = tsv::hostAllocLarge(bytes);
  if (!p) {
    Napi::Error::New(env, "out of memory allocating " + std::to_string(bytes) + " bytes of host memory").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::ArrayBuffer::New(env, p, bytes, [](Napi::Env, void* data) { tsv::hostFreeLarge(data); });
}

}  // namespace

void tsvRegisterHostMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("allocateHostBuffer", Napi::Function::New(env, allocateHostBuffer, "allocateHostBuffer"));
}
