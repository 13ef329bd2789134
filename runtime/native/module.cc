// The addon's entry point: exposes every generated kernel as kernels[name](buffers, scalars, dims)
// and the runtime's native services (thread count). Buffers are TypedArrays or ArrayBuffers: on
// CPU the kernels read and write them in place; in CUDA builds they are staged through device
// memory (copied in, launched, copied back), which is what kernel tests on a GPU need.
#include <napi.h>
#include <chrono>
#include <vector>
#include "device_errors.h"
#include "kernel_table.h"
#include "memory.h"
#include "typed_array.h"

extern "C" void tsv_set_num_threads(int n);

namespace {

void* bufferPointer(const Napi::Value& v) {
  if (v.IsTypedArray()) return tsv::typedArrayData(v);
  if (v.IsArrayBuffer()) return v.As<Napi::ArrayBuffer>().Data();
  if (v.IsBuffer()) return v.As<Napi::Buffer<uint8_t>>().Data();
  return nullptr;
}

// One launch's arguments, with buffers staged into device memory when kernels cannot read host
// memory (CUDA builds), and copied back after.
struct Launch {
  std::vector<void*> host, ptrs;
  std::vector<size_t> bytes;
  std::vector<tsv::DeviceMemory> staged;
  std::vector<double> scalars;
  std::vector<int64_t> dims;

  bool parse(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray()) {
      Napi::TypeError::New(env, "kernel(buffers[], scalars[], dims[]) expected").ThrowAsJavaScriptException();
      return false;
    }
    auto bufs = info[0].As<Napi::Array>();
    auto scal = info[1].As<Napi::Array>();
    auto dimArr = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < bufs.Length(); i++) {
      host.push_back(bufferPointer(bufs.Get(i)));
      if (!host.back()) {
        Napi::TypeError::New(env, "kernel buffer " + std::to_string(i) + " is not a TypedArray or ArrayBuffer").ThrowAsJavaScriptException();
        return false;
      }
      bytes.push_back(bufs.Get(i).IsTypedArray() ? bufs.Get(i).As<Napi::TypedArray>().ByteLength() : bufs.Get(i).As<Napi::ArrayBuffer>().ByteLength());
    }
    ptrs = host;
    if (!tsv::kernelsReadHostMemory()) {
      for (size_t i = 0; i < host.size(); i++) {
        staged.push_back(tsv::deviceBuffer(bytes[i]));
        ptrs[i] = staged.back().get();
        if (!ptrs[i]) {
          Napi::Error::New(env, "out of device memory staging kernel buffer " + std::to_string(i)).ThrowAsJavaScriptException();
          return false;
        }
        tsv::copyToDevice(ptrs[i], host[i], bytes[i]);
      }
    }
    for (uint32_t i = 0; i < scal.Length(); i++) scalars.push_back(scal.Get(i).As<Napi::Number>().DoubleValue());
    for (uint32_t i = 0; i < dimArr.Length(); i++) dims.push_back(dimArr.Get(i).As<Napi::Number>().Int64Value());
    return true;
  }

  void run(tsv::KernelFn fn) {
#ifdef TSV_CUDA
    fn(ptrs.data(), scalars.data(), dims.data(), static_cast<cudaStream_t>(tsv::computeStream()));
#else
    fn(ptrs.data(), scalars.data(), dims.data());
#endif
  }

  // Copies the outputs back; false (with a JS exception) when the device reported an error.
  bool finish(Napi::Env env) {
    if (!checked(env)) return false;
    if (!tsv::kernelsReadHostMemory())
      for (size_t i = 0; i < host.size(); i++) tsv::copyToHost(host[i], ptrs[i], bytes[i]);
    return true;
  }

  static bool checked(Napi::Env env) { return tsv::synchronizeOrThrow(env, "kernel launch failed"); }
};

Napi::Value callKernel(const Napi::CallbackInfo& info) {
  Launch launch;
  if (!launch.parse(info)) return info.Env().Undefined();
  launch.run(reinterpret_cast<tsv::KernelFn>(info.Data()));
  launch.finish(info.Env());
  return info.Env().Undefined();
}

// timeKernel(buffers, scalars, dims, iterations): seconds per launch, measured after one warm-up
// launch with the buffers already in place (so staging copies are not counted).
Napi::Value timeKernel(const Napi::CallbackInfo& info) {
  Launch launch;
  if (!launch.parse(info)) return info.Env().Undefined();
  const auto fn = reinterpret_cast<tsv::KernelFn>(info.Data());
  const int iterations = info[3].As<Napi::Number>().Int32Value();
  launch.run(fn);
  if (!Launch::checked(info.Env())) return info.Env().Undefined();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; i++) launch.run(fn);
  if (!Launch::checked(info.Env())) return info.Env().Undefined();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return Napi::Number::New(info.Env(), seconds / iterations);
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  tsv_set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

}  // namespace

void tsvRegisterRuntime(Napi::Env env, Napi::Object exports);
#ifdef TSV_CUDA
void tsvRegisterCublasLt(Napi::Env env, Napi::Object exports);
#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto kernels = Napi::Object::New(env);
  auto timers = Napi::Object::New(env);
  for (size_t i = 0; i < tsv_kernel_count; i++) {
    const auto& k = tsv_kernel_table[i];
    kernels.Set(k.name, Napi::Function::New(env, callKernel, k.name, reinterpret_cast<void*>(k.fn)));
    timers.Set(k.name, Napi::Function::New(env, timeKernel, k.name, reinterpret_cast<void*>(k.fn)));
  }
  exports.Set("kernels", kernels);
  exports.Set("timeKernel", timers);
  exports.Set("setNumThreads", Napi::Function::New(env, setNumThreads, "setNumThreads"));
  tsvRegisterRuntime(env, exports);
#ifdef TSV_CUDA
  tsvRegisterCublasLt(env, exports);
#endif
  return exports;
}

NODE_API_MODULE(tsvllm, Init)
