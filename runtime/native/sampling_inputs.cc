// SamplingInputs (sampling_inputs.h): the checks of a step's sampling argument and its packing.
#include "sampling_inputs.h"

#include <cstring>

#include "sampling_rng.h"
#include "typed_array.h"

namespace tsv {

void SamplingInputs::size(int64_t maxSampleRows, int64_t maxLogitEdits) {
  maxSampleRows_ = maxSampleRows;
  maxLogitEdits_ = maxLogitEdits;
  samples_.assign((size_t)(kSampleInputs * sampleStride()), 0);
  edits_.assign((size_t)(kEditInputs * editStride()), 0);
}

std::string SamplingInputs::read(const Napi::Value& value, int64_t numLogitRows, int64_t vocabSize, int64_t* numRows, int32_t** sampledOut, int64_t* numEdits) {
  if (!value.IsObject()) return "expected an object";
  const auto obj = value.As<Napi::Object>();
  struct Field {
    const char* name;
    napi_typedarray_type type;
    int64_t perRow;
    const void* data = nullptr;
  };
  Field fields[] = {{"rowIndices", napi_int32_array, 1}, {"temperature", napi_float32_array, 1}, {"topK", napi_int32_array, 1}, {"topP", napi_float32_array, 1},
                    {"minP", napi_float32_array, 1}, {"rng", napi_uint32_array, 4}, {"sampledTokenIds", napi_int32_array, 1}};
  const Napi::Value rowIndices = obj.Get("rowIndices");
  if (!rowIndices.IsTypedArray()) return "rowIndices must be an Int32Array";
  const int64_t rows = (int64_t)rowIndices.As<Napi::TypedArray>().ElementLength();
  if (rows > maxSampleRows_) return std::to_string(rows) + " rows, more than the model was sized for (" + std::to_string(maxSampleRows_) + ")";
  for (auto& f : fields) {
    const Napi::Value v = obj.Get(f.name);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != f.type) return std::string(f.name) + " has the wrong type";
    if ((int64_t)v.As<Napi::TypedArray>().ElementLength() != rows * f.perRow) return std::string(f.name) + " must hold " + std::to_string(f.perRow) + " entries per row";
    f.data = typedArrayData(v);
  }
  const auto* indices = static_cast<const int32_t*>(fields[0].data);
  for (int64_t r = 0; r < rows; r++) {
    if (indices[r] < 0 || indices[r] >= numLogitRows) return "rowIndices[" + std::to_string(r) + "] = " + std::to_string(indices[r]) + " is not a logits row of this step";
  }
  const std::string editProblem = readEdits(obj, rows, vocabSize, numEdits);
  if (!editProblem.empty()) return editProblem;
  const size_t stride = (size_t)sampleStride();
  for (int c = 0; c < 5; c++) std::memcpy(samples_.data() + c * stride, fields[c].data, (size_t)rows * 4);
  const auto* rng = static_cast<const uint32_t*>(fields[5].data);
  auto* uniform = reinterpret_cast<float*>(samples_.data() + 5 * stride);
  for (int64_t r = 0; r < rows; r++) uniform[r] = static_cast<float>(uniformForKey(rng + 4 * r));
  *numRows = rows;
  *sampledOut = static_cast<int32_t*>(const_cast<void*>(fields[6].data));
  return {};
}

// The edits of read()'s object: checks the offsets (from 0, never decreasing, within
// maxLogitEdits) and token ids, and copies offsets and edits into their columns.
std::string SamplingInputs::readEdits(const Napi::Object& obj, int64_t rows, int64_t vocabSize, int64_t* numEdits) {
  const Napi::Value offsetsValue = obj.Get("editOffsets");
  if (!offsetsValue.IsTypedArray() || offsetsValue.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || (int64_t)offsetsValue.As<Napi::TypedArray>().ElementLength() != rows + 1) {
    return "editOffsets must be an Int32Array of rows + 1 entries";
  }
  const auto* offsets = static_cast<const int32_t*>(typedArrayData(offsetsValue));
  if (offsets[0] != 0) return "editOffsets must start at 0";
  for (int64_t r = 0; r < rows; r++) {
    if (offsets[r + 1] < offsets[r]) return "editOffsets must never decrease";
  }
  const int64_t count = offsets[rows];
  if (count > maxLogitEdits_) return std::to_string(count) + " logit edits, more than the model was sized for (" + std::to_string(maxLogitEdits_) + ")";
  const struct {
    const char* name;
    napi_typedarray_type type;
  } columns[kEditInputs] = {{"editTokenIds", napi_int32_array}, {"editBias", napi_float32_array}, {"editRepetition", napi_float32_array}, {"editSubtract", napi_float32_array}};
  for (int c = 0; c < kEditInputs; c++) {
    const Napi::Value v = obj.Get(columns[c].name);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != columns[c].type || (int64_t)v.As<Napi::TypedArray>().ElementLength() != count) {
      return std::string(columns[c].name) + " must be a typed array of editOffsets[rows] entries";
    }
    std::memcpy(edits_.data() + c * editStride(), typedArrayData(v), (size_t)count * 4);
  }
  for (int64_t e = 0; e < count; e++) {
    const int32_t token = static_cast<int32_t>(edits_[e]);
    if (token < 0 || token >= vocabSize) return "editTokenIds[" + std::to_string(e) + "] = " + std::to_string(token) + " is not a token id";
  }
  std::memcpy(samples_.data() + kEditOffsets * sampleStride(), offsets, (size_t)(rows + 1) * 4);
  *numEdits = count;
  return {};
}

}  // namespace tsv
