// Load-time fp8 quantization for --quantization fp8 (runtime/loader/fp8.ts quantizeFp8AtLoad):
// one tensor's f32/f16/bf16 values to OCP e4m3fn bits with one scale per tensor, max |w| / 448.
// In JS this took about 26 s per billion parameters; here both passes (the max, then the
// rounding) run over the runtime's threads. quantizeFp8(src, dtype, dst) returns the scale and
// writes dst bit for bit as the JS quantizer does: w / scale is an f32 division, which equals JS's
// double division rounded to f32 (the double rounding is innocuous for f32 operands), and the
// prelude's tsv_f32_to_fp8e4m3 rounds on the f32's bits as fp8Bits there does.
#include <napi.h>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tsvllm_cpu.h"
#include "typed_array.h"

namespace {

constexpr int64_t kChunk = 1 << 16;

// A function of its own with restrict pointers: dst is bytes, which may alias anything, so in the
// caller's lambda every store would reload src, scale and the bounds through the closure and the
// loop would not vectorise (5x slower).
template <typename Bits, typename Widen>
void roundChunk(const Bits* __restrict src, uint8_t* __restrict dst, int64_t begin, int64_t end, float scale, Widen widen) {
  for (int64_t i = begin; i < end; i++) dst[i] = tsv_f32_to_fp8e4m3(widen(src[i]) / scale);
}

// The max |w| is taken on the magnitude bits, which order as the finite values do (and put a NaN
// above them all, whose scale then falls back to 1 as in JS): an integer max vectorises, a float
// one does not without -ffinite-math-only.
template <typename Bits, typename Widen>
float quantize(const Bits* src, int64_t n, uint8_t* dst, Widen widen) {
  constexpr Bits magnitudeMask = (Bits)~((Bits)1 << (8 * sizeof(Bits) - 1));
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<Bits> maxima(chunks, 0);
  auto chunkMax = [&](int64_t c) {
    Bits m = 0;
    for (int64_t i = c * kChunk, end = std::min(n, i + kChunk); i < end; i++) m = std::max<Bits>(m, src[i] & magnitudeMask);
    maxima[c] = m;
  };
  tsv_parallel_for(chunks, true, chunkMax);
  const float maxAbs = chunks == 0 ? 0.0f : widen(*std::max_element(maxima.begin(), maxima.end()));
  // A zero tensor keeps scale 1, as the JS quantizer's `|| 1`.
  const float scale = maxAbs / 448.0f > 0.0f ? maxAbs / 448.0f : 1.0f;
  auto chunkRound = [&](int64_t c) { roundChunk(src, dst, c * kChunk, std::min(n, (c + 1) * kChunk), scale, widen); };
  tsv_parallel_for(chunks, true, chunkRound);
  return scale;
}

Napi::Value quantizeFp8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsString() || !info[2].IsTypedArray()) {
    Napi::TypeError::New(env, "quantizeFp8(src, dtype, dst) expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto src = info[0].As<Napi::TypedArray>();
  auto dst = info[2].As<Napi::TypedArray>();
  const std::string dtype = info[1].As<Napi::String>().Utf8Value();
  const size_t element = dtype == "f32" ? 4 : (dtype == "f16" || dtype == "bf16") ? 2 : 0;
  const int64_t n = (int64_t)src.ElementLength();
  if (element == 0 || src.ElementSize() != element || dst.ElementSize() != 1 || (int64_t)dst.ElementLength() != n) {
    Napi::RangeError::New(env, "quantizeFp8: src must be f32, f16 or bf16 as dtype says, dst one byte per element of src").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* out = static_cast<uint8_t*>(tsv::typedArrayData(dst));
  float scale;
  if (dtype == "f32") {
    scale = quantize(static_cast<const uint32_t*>(tsv::typedArrayData(src)), n, out, [](uint32_t b) {
      float f;
      std::memcpy(&f, &b, 4);
      return f;
    });
  } else if (dtype == "f16") {
    // Lambdas, not the converters' addresses: through a function pointer neither loop inlines or
    // vectorises (3.4 against 0.37 ns a value).
    scale = quantize(static_cast<const uint16_t*>(tsv::typedArrayData(src)), n, out, [](uint16_t h) { return tsv_f16_to_f32(h); });
  } else {
    scale = quantize(static_cast<const uint16_t*>(tsv::typedArrayData(src)), n, out, [](uint16_t h) { return tsv_bf16_to_f32(h); });
  }
  return Napi::Number::New(env, scale);
}

}  // namespace

void tsvRegisterFp8Quantize(Napi::Env env, Napi::Object exports) {
  exports.Set("quantizeFp8", Napi::Function::New(env, quantizeFp8, "quantizeFp8"));
}
