// The addon's entry point: exposes every generated kernel as kernels[name](buffers, scalars, dims)
// and the runtime's native services (thread count). Buffers are TypedArrays or ArrayBuffers whose
// memory the kernels read and write in place.
#include <napi.h>
#include <vector>
#include "kernel_table.h"

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
  std::vector<void*> ptrs(bufs.Length());
  for (uint32_t i = 0; i < bufs.Length(); i++) {
    ptrs[i] = bufferPointer(bufs.Get(i));
    if (!ptrs[i]) {
      Napi::TypeError::New(env, "kernel buffer " + std::to_string(i) + " is not a TypedArray or ArrayBuffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  std::vector<double> s(scal.Length());
  for (uint32_t i = 0; i < scal.Length(); i++) s[i] = scal.Get(i).As<Napi::Number>().DoubleValue();
  std::vector<int64_t> d(dims.Length());
  for (uint32_t i = 0; i < dims.Length(); i++) d[i] = dims.Get(i).As<Napi::Number>().Int64Value();
  fn(ptrs.data(), s.data(), d.data());
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
