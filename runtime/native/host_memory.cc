// Huge-page host buffers (host_memory.h), and allocateHostBuffer(bytes) for JS: an ArrayBuffer over
// such memory, freed when the ArrayBuffer is collected (the weight panels are packed into these);
// and mapFile, an ArrayBuffer over part of a checkpoint file, unmapped when collected.
#include "host_memory.h"
#include <fcntl.h>
#include <napi.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cerrno>
#include <cstdint>
#include <cstring>
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

// A file mapping that an ArrayBuffer views from `delta` bytes in (mmap needs a page-aligned offset).
struct FileMapping {
  void* base;
  size_t length;
};

// mapFile(path, offset, bytes): an ArrayBuffer over bytes [offset, offset + bytes) of the file,
// mapped copy-on-write (writes stay private, as into a buffer read from it). A checkpoint already
// in the page cache is then used where it is: reading it into fresh memory costs a first-touch
// page fault per page, most of a load's time on the project's VMs (2.2 GB: 1.6 to 6 s, depending
// on how fragmented free memory is), and for a CUDA load only feeds the upload.
Napi::Value mapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() || info[1].As<Napi::Number>().DoubleValue() < 0 || info[2].As<Napi::Number>().DoubleValue() < 0) {
    Napi::TypeError::New(env, "mapFile(path, offset, bytes) expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const size_t offset = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  const size_t bytes = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
  if (bytes == 0) return Napi::ArrayBuffer::New(env, 0);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t aligned = offset / page * page;
  const size_t delta = offset - aligned;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Napi::Error::New(env, path + ": cannot open (" + std::strerror(errno) + ")").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  void* base = mmap(nullptr, bytes + delta, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, static_cast<off_t>(aligned));
  const int mapError = errno;
  close(fd);  // the mapping keeps the file
  if (base == MAP_FAILED) {
    Napi::Error::New(env, path + ": cannot map bytes [" + std::to_string(offset) + ", " + std::to_string(offset + bytes) + ") (" + std::strerror(mapError) + ")").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  madvise(base, bytes + delta, MADV_WILLNEED);  // start reading what the page cache lacks
  auto* mapping = new FileMapping{base, bytes + delta};
  return Napi::ArrayBuffer::New(env, static_cast<uint8_t*>(base) + delta, bytes, [](Napi::Env, void*, FileMapping* m) {
    munmap(m->base, m->length);
    delete m;
  }, mapping);
}

}  // namespace

void tsvRegisterHostMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("allocateHostBuffer", Napi::Function::New(env, allocateHostBuffer, "allocateHostBuffer"));
  exports.Set("mapFile", Napi::Function::New(env, mapFile, "mapFile"));
}
