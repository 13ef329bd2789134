// Load-time packing of dense matmul weights into the panels their kernel reads
// (dsl/kernels/matmul-blocked.ts: wp[p, k, j] = w[16 p + j, k], zero past the last row), done here
// rather than in a JS loop (TinyLlama: about 8 s in JS). packWeightPanels(src, dst, rows, columns)
// copies elements of 2 or 4 bytes (f16/bf16 bits or f32) as they are; dst comes zero-filled from
// JS. Panels are split over the runtime's threads; within a panel, k runs in blocks so the 16
// source rows' cache lines are reused across the block while the panel is written in order.
#include <napi.h>
#include <algorithm>
#include <cstdint>

#include "tsvllm_parallel.h"
#include "typed_array.h"

namespace {

constexpr int64_t panelWidth = 16;
constexpr int64_t kBlock = 256;

template <typename E>
void pack(const E* src, E* dst, int64_t rows, int64_t columns) {
  const int64_t panels = (rows + panelWidth - 1) / panelWidth;
  auto packPanel = [&](int64_t p) {
    E* panel = dst + p * columns * panelWidth;
    const int64_t width = std::min(panelWidth, rows - p * panelWidth);
    for (int64_t k0 = 0; k0 < columns; k0 += kBlock) {
      const int64_t k1 = std::min(columns, k0 + kBlock);
      for (int64_t j = 0; j < width; j++) {
        const E* row = src + (p * panelWidth + j) * columns;
        for (int64_t k = k0; k < k1; k++) panel[k * panelWidth + j] = row[k];
      }
    }
  };
  tsv_parallel_for(panels, true, packPanel);
}

Napi::Value packWeightPanels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsNumber() || !info[3].IsNumber()) {
    Napi::TypeError::New(env, "packWeightPanels(src, dst, rows, columns) expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto src = info[0].As<Napi::TypedArray>();
  auto dst = info[1].As<Napi::TypedArray>();
  const int64_t rows = info[2].As<Napi::Number>().Int64Value(), columns = info[3].As<Napi::Number>().Int64Value();
  const size_t element = src.ElementSize();
  const int64_t panels = (rows + panelWidth - 1) / panelWidth;
  if ((element != 2 && element != 4) || dst.ElementSize() != element || rows < 0 || columns < 0 || (int64_t)src.ElementLength() != rows * columns ||
      (int64_t)dst.ElementLength() != panels * columns * panelWidth) {
    Napi::RangeError::New(env, "packWeightPanels: src must hold rows x columns elements of 2 or 4 bytes, dst cdiv(rows, 16) x columns x 16 of the same size")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (element == 2) pack(static_cast<const uint16_t*>(tsv::typedArrayData(src)), static_cast<uint16_t*>(tsv::typedArrayData(dst)), rows, columns);
  else pack(static_cast<const uint32_t*>(tsv::typedArrayData(src)), static_cast<uint32_t*>(tsv::typedArrayData(dst)), rows, columns);
  return env.Undefined();
}

}  // namespace

void tsvRegisterWeightPacking(Napi::Env env, Napi::Object exports) {
  exports.Set("packWeightPanels", Napi::Function::New(env, packWeightPanels, "packWeightPanels"));
}
