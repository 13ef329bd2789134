// Native runtime services beyond kernels (sampler, model) register here, so module.cc stays the
// same whatever a build contains.
#include <napi.h>

void tsvRegisterSampler(Napi::Env env, Napi::Object exports);
void tsvRegisterModel(Napi::Env env, Napi::Object exports);

void tsvRegisterRuntime(Napi::Env env, Napi::Object exports) {
  tsvRegisterSampler(env, exports);
  tsvRegisterModel(env, exports);
}
