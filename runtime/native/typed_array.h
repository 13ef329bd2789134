// Where a JS typed array's elements live (its ArrayBuffer's memory plus the view's offset), for the
// native code that reads or fills them in place, and how many bytes the view spans.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace tsv {

inline void* typedArrayData(const Napi::TypedArray& a) { return static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(); }
inline void* typedArrayData(const Napi::Value& v) { return typedArrayData(v.As<Napi::TypedArray>()); }
inline size_t typedArrayBytes(const Napi::Value& v) { return v.As<Napi::TypedArray>().ByteLength(); }

}  // namespace tsv
