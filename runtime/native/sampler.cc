// Placeholder registration until the native sampler lands (runtime/engine owns its JS side).
#include <napi.h>

void tsvRegisterSampler(Napi::Env, Napi::Object) {}
