// A step's sampling argument, checked and packed into the fixed columns the forward pass reads
// (a CUDA graph replays their addresses, so every step writes the same places): kSampleInputs
// columns of maxSampleRows + 1 entries (row indices, temperature, top-k, top-p, min-p, each row's
// uniform draw, and the edit offsets, which need the one more), and kEditInputs columns of
// maxLogitEdits (token ids, bias, repetition penalty, amount to subtract).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tsv {

class SamplingInputs {
 public:
  static constexpr int kSampleInputs = 7;
  static constexpr int kEditOffsets = 6;
  static constexpr int kEditInputs = 4;

  void size(int64_t maxSampleRows, int64_t maxLogitEdits);

  /**
   * The sampling argument: { rowIndices: Int32Array, temperature: Float32Array, topK: Int32Array,
   * topP: Float32Array, minP: Float32Array, rng: Uint32Array (4 per row: seed low, seed high,
   * sequence index, step), sampledTokenIds: Int32Array, editOffsets: Int32Array (rows + 1),
   * editTokenIds: Int32Array, editBias, editRepetition, editSubtract: Float32Array (one entry per
   * edit) }, rows = rowIndices.length. Packs the inputs into the sample columns (each row's uniform
   * draw from its rng key) and the edits into theirs; returns what is wrong with the object, or
   * nothing, with the row count, where the token ids go and the edit count.
   */
  std::string read(const Napi::Value& value, int64_t numLogitRows, int64_t vocabSize, int64_t* numRows, int32_t** sampledOut, int64_t* numEdits);

  int64_t sampleStride() const { return maxSampleRows_ + 1; }
  int64_t editStride() const { return maxLogitEdits_ > 1 ? maxLogitEdits_ : 1; }
  int64_t maxLogitEdits() const { return maxLogitEdits_; }
  std::vector<uint32_t>& samples() { return samples_; }
  std::vector<uint32_t>& edits() { return edits_; }

 private:
  std::string readEdits(const Napi::Object& obj, int64_t rows, int64_t vocabSize, int64_t* numEdits);

  int64_t maxSampleRows_ = 0;
  int64_t maxLogitEdits_ = 0;
  std::vector<uint32_t> samples_;
  std::vector<uint32_t> edits_;
};

}  // namespace tsv
