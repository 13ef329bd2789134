// The addon's entry point: exposes every generated kernel as kernels[name](buffers, scalars, dims)
// and the runtime's native services (thread count). Buffers are TypedArrays or ArrayBuffers: on
// CPU the kernels read and write them in place; in CUDA builds they are staged through device
// memory (copied in, launched, copied back), which is what kernel tests on a GPU need.
#include <napi.h>
#include <vector>
#include "kernel_table.h"
#include "memory.h"

extern "C" void tsv_set_num_threads(int n);

namespace {

void* bufferPointer(const Napi::Value& v) {
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    return static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  }
  if (v.IsArrayBuffer()) return v.As<Napi::ArrayBuffer>().Data();
  if (v.IsBuffer()) return v.As<Napi::Buffer<uint8_t>>().Data();
  return nullptr;
}

Napi::Value callKernel(const Napi::CallbackInfo& info) {
  const auto fn = reinterpret_cast<tsv::KernelFn>(info.Data());
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray()) {
    Napi::TypeError::New(env, "kernel(buffers[], scalars[], dims[]) expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto bufs = info[0].As<Napi::Array>();
  auto scal = info[1].As<Napi::Array>();
  auto dims = info[2].As<Napi::Array>();
  std::vector<void*> host(bufs.Length());
  std::vector<size_t> bytes(bufs.Length());
  for (uint32_t i = 0; i < bufs.Length(); i++) {
    host[i] = bufferPointer(bufs.Get(i));
    if (!host[i]) {
      Napi::TypeError::New(env, "kernel buffer " + std::to_string(i) + " is not a TypedArray or ArrayBuffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    bytes[i] = bufs.Get(i).IsTypedArray() ? bufs.Get(i).As<Napi::TypedArray>().ByteLength() : bufs.Get(i).As<Napi::ArrayBuffer>().ByteLength();
  }
  std::vector<tsv::DeviceMemory> staged;
  std::vector<void*> ptrs(host);
  if (!tsv::kernelsReadHostMemory()) {
    for (size_t i = 0; i < host.size(); i++) {
      staged.push_back(tsv::deviceBuffer(bytes[i]));
      ptrs[i] = staged.back().get();
      tsv::copyToDevice(ptrs[i], host[i], bytes[i]);
    }
  }
  std::vector<double> s(scal.Length());
  for (uint32_t i = 0; i < scal.Length(); i++) s[i] = scal.Get(i).As<Napi::Number>().DoubleValue();
  std::vector<int64_t> d(dims.Length());
  for (uint32_t i = 0; i < dims.Length(); i++) d[i] = dims.Get(i).As<Napi::Number>().Int64Value();
#ifdef TSV_CUDA
  fn(ptrs.data(), s.data(), d.data(), nullptr);
#else
  fn(ptrs.data(), s.data(), d.data());
#endif
  if (!tsv::kernelsReadHostMemory()) {
    tsv::synchronize();
    for (size_t i = 0; i < host.size(); i++) tsv::copyToHost(host[i], ptrs[i], bytes[i]);
  }
  return env.Undefined();
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  tsv_set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace

void tsvRegisterRuntime(Napi::Env env, Napi::Object exports);

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto kernels = Napi::Object::New(env);
  for (size_t i = 0; i < tsv_kernel_count; i++) {
    const auto& k = tsv_kernel_table[i];
    kernels.Set(k.name, Napi::Function::New(env, callKernel, k.name, reinterpret_cast<void*>(k.fn)));
  }
  exports.Set("kernels", kernels);
  exports.Set("setNumThreads", Napi::Function::New(env, setNumThreads, "setNumThreads"));
  tsvRegisterRuntime(env, exports);
  return exports;
}

NODE_API_MODULE(tsvllm, Init)
