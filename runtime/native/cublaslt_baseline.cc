// CUDA builds: cuBLASLt as an optional comparison for the generated tensor-core GEMM, loaded at run
// time with dlopen (no cuBLAS headers or link-time dependency; the GPU machine's libcublasLt is used
// when present). Exposes cublasLtGemm(x, w, out, T, N, K, dtype, iterations): out[T, N] = x[T, K]
// w[N, K]^T for f16/bf16 operands and output with f32 accumulation, the contract of matmulMma;
// returns seconds per call, timed after one warm-up with the buffers already on the device.
// The few declarations below restate the documented cuBLASLt C API (enum values from cublasLt.h
// and library_types.h); column-major, so out^T (N x T) = w (K x N)^T x^T (K x T).
#include <napi.h>
#include <dlfcn.h>
#include <cuda_runtime.h>
#include <library_types.h>
#include <chrono>
#include <cstdint>
#include <string>
#include "memory.h"
#include "typed_array.h"

namespace {

using Status = int;
using Handle = void*;
constexpr int computeType32F = 68;       // CUBLAS_COMPUTE_32F
constexpr int descTransA = 3;            // CUBLASLT_MATMUL_DESC_TRANSA
constexpr int descTransB = 4;            // CUBLASLT_MATMUL_DESC_TRANSB
constexpr int prefMaxWorkspaceBytes = 1; // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
constexpr int32_t opN = 0, opT = 1;      // CUBLAS_OP_N, CUBLAS_OP_T
constexpr size_t workspaceBytes = 32u << 20;

struct Algo { uint64_t data[8]; };
struct HeuristicResult {
  Algo algo;
  size_t workspaceSize;
  Status state;
  float wavesCount;
  int reserved[4];
};

struct CublasLt {
  Status (*create)(Handle*);
  Status (*descCreate)(Handle*, int, cudaDataType_t);
  Status (*descSet)(Handle, int, const void*, size_t);
  Status (*descDestroy)(Handle);
  Status (*layoutCreate)(Handle*, cudaDataType_t, uint64_t, uint64_t, int64_t);
  Status (*layoutDestroy)(Handle);
  Status (*prefCreate)(Handle*);
  Status (*prefSet)(Handle, int, const void*, size_t);
  Status (*prefDestroy)(Handle);
  Status (*heuristic)(Handle, Handle, Handle, Handle, Handle, Handle, Handle, int, HeuristicResult*, int*);
  Status (*matmul)(Handle, Handle, const void*, const void*, Handle, const void*, Handle, const void*, const void*, Handle, void*, Handle, const Algo*, void*, size_t, cudaStream_t);
  Handle handle = nullptr;
};

// The library and its entry points, resolved once; an empty string when loaded, else why not.
std::string load(CublasLt& lt) {
  void* lib = nullptr;
  for (const char* name : {"libcublasLt.so", "libcublasLt.so.13", "libcublasLt.so.12"})
    if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
  if (!lib) return std::string("cannot load libcublasLt: ") + dlerror();
  const auto resolve = [&](auto& fn, const char* symbol) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, symbol));
    return fn != nullptr;
  };
  const bool ok = resolve(lt.create, "cublasLtCreate") && resolve(lt.descCreate, "cublasLtMatmulDescCreate") &&
                  resolve(lt.descSet, "cublasLtMatmulDescSetAttribute") && resolve(lt.descDestroy, "cublasLtMatmulDescDestroy") &&
                  resolve(lt.layoutCreate, "cublasLtMatrixLayoutCreate") && resolve(lt.layoutDestroy, "cublasLtMatrixLayoutDestroy") &&
                  resolve(lt.prefCreate, "cublasLtMatmulPreferenceCreate") && resolve(lt.prefSet, "cublasLtMatmulPreferenceSetAttribute") &&
                  resolve(lt.prefDestroy, "cublasLtMatmulPreferenceDestroy") && resolve(lt.heuristic, "cublasLtMatmulAlgoGetHeuristic") &&
                  resolve(lt.matmul, "cublasLtMatmul");
  if (!ok) return "libcublasLt lacks an entry point the baseline needs";
  if (lt.create(&lt.handle) != 0) return "cublasLtCreate failed";
  return "";
}

using tsv::typedArrayBytes;
using tsv::typedArrayData;

Napi::Value cublasLtGemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  static CublasLt lt;
  static const std::string loadError = load(lt);
  if (!loadError.empty()) {
    Napi::Error::New(env, loadError).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() < 8 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
    Napi::TypeError::New(env, "cublasLtGemm(x, w, out, T, N, K, dtype, iterations) expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int64_t T = info[3].As<Napi::Number>().Int64Value(), N = info[4].As<Napi::Number>().Int64Value(), K = info[5].As<Napi::Number>().Int64Value();
  const cudaDataType_t type = info[6].As<Napi::String>().Utf8Value() == "bf16" ? CUDA_R_16BF : CUDA_R_16F;
  const int iterations = info[7].As<Napi::Number>().Int32Value();
  auto x = tsv::deviceBuffer(typedArrayBytes(info[0])), w = tsv::deviceBuffer(typedArrayBytes(info[1])), out = tsv::deviceBuffer(typedArrayBytes(info[2]));
  auto workspace = tsv::deviceBuffer(workspaceBytes);
  tsv::copyToDevice(x.get(), typedArrayData(info[0]), typedArrayBytes(info[0]));
  tsv::copyToDevice(w.get(), typedArrayData(info[1]), typedArrayBytes(info[1]));

  Handle desc = nullptr, a = nullptr, b = nullptr, d = nullptr, pref = nullptr;
  HeuristicResult best{};
  int found = 0;
  std::string failed;
  const auto check = [&](Status s, const char* what) {
    if (s != 0 && failed.empty()) failed = std::string(what) + " failed with status " + std::to_string(s);
  };
  const uint64_t maxWorkspace = workspaceBytes;
  check(lt.descCreate(&desc, computeType32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  if (failed.empty()) {
    check(lt.descSet(desc, descTransA, &opT, sizeof(opT)), "set TRANSA");
    check(lt.descSet(desc, descTransB, &opN, sizeof(opN)), "set TRANSB");
    check(lt.layoutCreate(&a, type, K, N, K), "layout of w");
    check(lt.layoutCreate(&b, type, K, T, K), "layout of x");
    check(lt.layoutCreate(&d, type, N, T, N), "layout of out");
    check(lt.prefCreate(&pref), "cublasLtMatmulPreferenceCreate");
  }
  if (failed.empty()) check(lt.prefSet(pref, prefMaxWorkspaceBytes, &maxWorkspace, sizeof(maxWorkspace)), "set the workspace limit");
  if (failed.empty()) check(lt.heuristic(lt.handle, desc, a, b, d, d, pref, 1, &best, &found), "cublasLtMatmulAlgoGetHeuristic");
  if (failed.empty() && found == 0) failed = "cuBLASLt found no algorithm for this GEMM";
  double seconds = 0;
  if (failed.empty()) {
    const float alpha = 1.0f, beta = 0.0f;
    const auto run = [&] { return lt.matmul(lt.handle, desc, &alpha, w.get(), a, x.get(), b, &beta, out.get(), d, out.get(), d, &best.algo, workspace.get(), workspaceBytes, nullptr); };
    const auto synchronized = [&] {
      const std::string error = tsv::synchronize();
      if (!error.empty() && failed.empty()) failed = "cublasLtMatmul: " + error;
    };
    check(run(), "cublasLtMatmul");
    synchronized();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations && failed.empty(); i++) check(run(), "cublasLtMatmul");
    synchronized();
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / (iterations > 0 ? iterations : 1);
    tsv::copyToHost(typedArrayData(info[2]), out.get(), typedArrayBytes(info[2]));
  }
  for (Handle layout : {a, b, d})
    if (layout) lt.layoutDestroy(layout);
  if (pref) lt.prefDestroy(pref);
  if (desc) lt.descDestroy(desc);
  if (!failed.empty()) {
    Napi::Error::New(env, "cuBLASLt baseline: " + failed).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, seconds);
}

}  // namespace

void tsvRegisterCublasLt(Napi::Env env, Napi::Object exports) {
  exports.Set("cublasLtGemm", Napi::Function::New(env, cublasLtGemm, "cublasLtGemm"));
}
