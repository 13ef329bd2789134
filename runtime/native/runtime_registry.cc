// Native runtime services beyond kernels (sampler, model, weight packing, fp8 quantization, host buffers) register
// here, so module.cc stays the same whatever a build contains.
#include <napi.h>

void tsvRegisterSampler(Napi::Env env, Napi::Object exports);
void tsvRegisterModel(Napi::Env env, Napi::Object exports);
void tsvRegisterWeightPacking(Napi::Env env, Napi::Object exports);
void tsvRegisterHostMemory(Napi::Env env, Napi::Object exports);
void tsvRegisterFp8Quantize(Napi::Env env, Napi::Object exports);

void tsvRegisterRuntime(Napi::Env env, Napi::Object exports) {
  tsvRegisterSampler(env, exports);
  tsvRegisterModel(env, exports);
  tsvRegisterWeightPacking(env, exports);
  tsvRegisterHostMemory(env, exports);
  tsvRegisterFp8Quantize(env, exports);
}
