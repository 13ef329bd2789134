// Device failures as JavaScript errors: CUDA reports a failed launch or copy at the next
// synchronisation, so each native entry point that queues device work ends by waiting for it here.
#pragma once
#include <napi.h>
#include <string>
#include "memory.h"

namespace tsv {

/** Waits for the device's queued work; on failure throws "<what> failed...: <device error>" into JS and returns false. */
inline bool synchronizeOrThrow(Napi::Env env, const char* what) {
  const std::string error = synchronize();
  if (!error.empty()) Napi::Error::New(env, std::string(what) + ": " + error).ThrowAsJavaScriptException();
  return error.empty();
}

}  // namespace tsv
