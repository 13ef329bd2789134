// The native model object: holds the weights, the paged KV cache and the activation buffers, and
// runs the generated forward pass: one native call per engine step. On CPU the weights are the JS
// buffers themselves (referenced, not copied); in CUDA builds they are uploaded once and each
// step's inputs go up and its logits come back (only when asked: rows sampled in the forward pass
// send back their token ids instead), and decode steps replay a CUDA graph of the forward's launches (one per step shape)
// instead of launching each kernel. Builds without a model
// (kernel-test addons) link no forward pass; constructing a Model then throws.
#include <napi.h>
#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include "device_errors.h"
#include "forward_abi.h"
#include "memory.h"
#include "sampling_inputs.h"
#include "swap_space.h"
#include "typed_array.h"

extern "C" __attribute__((weak)) void tsv_model_forward(const tsv::ForwardArgs& args);
extern "C" __attribute__((weak)) const tsv::BufferSpec tsv_model_buffers[];
extern "C" __attribute__((weak)) const size_t tsv_model_buffer_count;
extern "C" __attribute__((weak)) const char* const tsv_model_weight_names[];
extern "C" __attribute__((weak)) const size_t tsv_model_weight_count;
extern "C" __attribute__((weak)) const int64_t tsv_model_kv_block_bytes;
extern "C" __attribute__((weak)) const int64_t tsv_model_num_layers;
extern "C" __attribute__((weak)) const int64_t tsv_model_vocab_size;

namespace {

using tsv::DeviceMemory;

using tsv::SamplingInputs;
using tsv::typedArrayBytes;
using tsv::typedArrayData;

enum Input { kInputIds, kPositions, kSlotMapping, kSeqIdx, kBlockTables, kLogitsIndices, kNumInputs };

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model", {InstanceMethod("forward", &Model::Forward), InstanceMethod("profile", &Model::Profile), InstanceMethod("copyBlocks", &Model::CopyBlocks),
                                      InstanceMethod("initializeSwapSpace", &Model::InitializeSwapSpace), InstanceMethod("swapBlocks", &Model::SwapBlocks),
                                      InstanceMethod("writeWeight", &Model::WriteWeight)});
  }

  // new Model(weights: (TypedArray | TypedArray[])[], { numBlocks, maxTokens, maxLogitRows, maxBlockTableEntries, enforceEager? })
  // enforceEager (vLLM's name) launches every kernel of every step, never a CUDA graph.
  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
    Napi::Env env = info.Env();
    if (!tsv_model_forward) {
      Napi::Error::New(env, "this addon was built without a model forward pass").ThrowAsJavaScriptException();
      return;
    }
    size_t free = 0, total = 0;
    const std::string noDevice = tsv::deviceMemory(&free, &total);
    if (!noDevice.empty()) {
      Napi::Error::New(env, "no usable CUDA device (" + noDevice + ")").ThrowAsJavaScriptException();
      return;
    }
    auto weights = info[0].As<Napi::Array>();
    if (weights.Length() != tsv_model_weight_count) {
      Napi::Error::New(env, "expected " + std::to_string(tsv_model_weight_count) + " weights, got " + std::to_string(weights.Length())).ThrowAsJavaScriptException();
      return;
    }
    for (uint32_t i = 0; i < weights.Length(); i++) {
      const Napi::Value weight = weights.Get(i);
      if (tsv::kernelsReadHostMemory() && weight.IsTypedArray()) {
        weightRefs_.push_back(Napi::Persistent(weight.As<Napi::Object>()));
        weights_.push_back(typedArrayData(weight));
        weightBytes_.push_back(typedArrayBytes(weight));
        continue;
      }
      // Uploaded, or (an array of pieces, a fused weight stacked by rows) copied piece by piece
      // into one buffer, so the stacked tensor is never built in JS only to be copied again.
      std::vector<Napi::Value> pieces;
      if (weight.IsTypedArray()) pieces.push_back(weight);
      if (weight.IsArray()) {
        auto list = weight.As<Napi::Array>();
        for (uint32_t p = 0; p < list.Length(); p++) pieces.push_back(list.Get(p));
      }
      size_t bytes = 0;
      for (const auto& piece : pieces) bytes += piece.IsTypedArray() ? typedArrayBytes(piece) : 0;
      if (pieces.empty() || !std::all_of(pieces.begin(), pieces.end(), [](const Napi::Value& piece) { return piece.IsTypedArray(); })) {
        Napi::TypeError::New(env, std::string("weight '") + tsv_model_weight_names[i] + "' must be a typed array or a non-empty array of them").ThrowAsJavaScriptException();
        return;
      }
      owned_.push_back(tsv::deviceBuffer(bytes));
      if (!owned_.back()) { outOfMemory(env, "weights"); return; }
      size_t offset = 0;
      for (const auto& piece : pieces) {
        tsv::copyToDevice(static_cast<uint8_t*>(owned_.back().get()) + offset, typedArrayData(piece), typedArrayBytes(piece));
        offset += typedArrayBytes(piece);
      }
      weights_.push_back(owned_.back().get());
      weightBytes_.push_back(bytes);
    }
    auto opts = info[1].As<Napi::Object>();
    numBlocks_ = opts.Get("numBlocks").As<Napi::Number>().Int64Value();
    maxTokens_ = opts.Get("maxTokens").As<Napi::Number>().Int64Value();
    maxLogitRows_ = opts.Get("maxLogitRows").As<Napi::Number>().Int64Value();
    sampling_.size(opts.Has("maxSampleRows") ? opts.Get("maxSampleRows").As<Napi::Number>().Int64Value() : maxLogitRows_,
                   opts.Has("maxLogitEdits") ? opts.Get("maxLogitEdits").As<Napi::Number>().Int64Value() : 0);
    maxBlockTableEntries_ = opts.Get("maxBlockTableEntries").As<Napi::Number>().Int64Value();
    kvCacheScales_.assign((size_t)(2 * tsv_model_num_layers), 1.0);
    if (opts.Has("kvCacheScales")) {
      const Napi::Value given = opts.Get("kvCacheScales");
      const bool valid = given.IsTypedArray() && given.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array && given.As<Napi::TypedArray>().ElementLength() == kvCacheScales_.size();
      if (!valid) {
        Napi::TypeError::New(env, "kvCacheScales must be a Float64Array of " + std::to_string(kvCacheScales_.size()) + " values (k, v per layer)").ThrowAsJavaScriptException();
        return;
      }
      const auto scales = given.As<Napi::Float64Array>();
      std::copy(scales.Data(), scales.Data() + scales.ElementLength(), kvCacheScales_.begin());
    }
    graphsEnabled_ = !tsv::kernelsReadHostMemory() && !(opts.Has("enforceEager") && opts.Get("enforceEager").ToBoolean().Value());
    for (int64_t l = 0; l < tsv_model_num_layers; l++) {
      for (auto* cache : {&kCache_, &vCache_}) {
        owned_.push_back(tsv::deviceBuffer((size_t)(numBlocks_ * tsv_model_kv_block_bytes)));
        if (!owned_.back()) { outOfMemory(env, "the KV cache"); return; }
        cache->push_back(owned_.back().get());
      }
    }
    for (size_t b = 0; b < tsv_model_buffer_count; b++) {
      const auto& spec = tsv_model_buffers[b];
      const int64_t rows = spec.rows == 0 ? maxTokens_ : spec.rows == 1 ? maxLogitRows_ : 1;
      owned_.push_back(tsv::deviceBuffer((size_t)(spec.bytesPerRow * rows)));
      if (!owned_.back()) { outOfMemory(env, "activation buffers"); return; }
      buffers_.push_back(owned_.back().get());
    }
    if (!tsv::kernelsReadHostMemory()) {
      const int64_t inputRows[kNumInputs] = {maxTokens_, maxTokens_, maxTokens_, maxTokens_, maxBlockTableEntries_, maxLogitRows_};
      for (int i = 0; i < kNumInputs; i++) {
        owned_.push_back(tsv::deviceBuffer((size_t)inputRows[i] * 4));
        stagedInputs_[i] = owned_.back().get();
        if (!stagedInputs_[i]) { outOfMemory(env, "step inputs"); return; }
      }
      owned_.push_back(tsv::deviceBuffer((size_t)maxTokens_ * 4));
      stagedLoraSlots_ = owned_.back().get();
      if (!stagedLoraSlots_) { outOfMemory(env, "step inputs"); return; }
      owned_.push_back(tsv::deviceBuffer((size_t)(maxLogitRows_ * tsv_model_vocab_size * 4)));
      stagedLogits_ = owned_.back().get();
      if (!stagedLogits_) { outOfMemory(env, "logits"); return; }
      owned_.push_back(tsv::deviceBuffer((size_t)((SamplingInputs::kSampleInputs + 1) * sampling_.sampleStride()) * 4));
      stagedSampling_ = owned_.back().get();
      if (!stagedSampling_) { outOfMemory(env, "sampling inputs"); return; }
      owned_.push_back(tsv::deviceBuffer((size_t)(SamplingInputs::kEditInputs * sampling_.editStride()) * 4));
      stagedEdits_ = owned_.back().get();
      if (!stagedEdits_) { outOfMemory(env, "logit edits"); return; }
    }
    tsv::synchronizeOrThrow(env, "uploading the weights failed");
  }

 private:
  // forward(inputIds, positions, slotMapping, seqIdx, blockTables, logitsIndices, logits, numSeqs, maxBlocksPerSeq[, sampling[, loraSlots]])
  // logits: [numLogitRows, vocab] to fill, or empty when the step wants none back. sampling: rows
  // sampled in the forward pass (readSampling), whose token ids land in sampling.sampledTokenIds.
  // loraSlots: an Int32Array of each token's LoRA slot (ForwardArgs.loraSlots), when one has an adapter.
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Step(info, nullptr);
    return info.Env().Undefined();
  }

  // profile(same arguments as forward): runs the step with the device's queue marked after every
  // launch and returns [{ launch, what, milliseconds }] in launch order (device time, so a CUDA
  // step is not synchronised between kernels to measure it).
  Napi::Value Profile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Marks marks;
    if (!Step(info, &marks)) return env.Undefined();
    auto out = Napi::Array::New(env, marks.launches.size());
    const tsv::TimeMark* previous = &marks.start;
    for (size_t i = 0; i < marks.launches.size(); i++) {
      auto entry = Napi::Object::New(env);
      entry.Set("launch", marks.launches[i].index);
      entry.Set("what", marks.launches[i].what);
      entry.Set("milliseconds", marks.launches[i].mark->millisecondsSince(*previous));
      previous = marks.launches[i].mark.get();
      out.Set(i, entry);
    }
    return out;
  }

  struct Marks {
    struct Launch {
      int index;
      const char* what;
      std::unique_ptr<tsv::TimeMark> mark;
    };
    tsv::TimeMark start;
    std::vector<Launch> launches;
    static void after(void* context, int index, const char* what) {
      auto* marks = static_cast<Marks*>(context);
      marks->launches.push_back({index, what, std::make_unique<tsv::TimeMark>()});
      marks->launches.back().mark->record();
    }
  };

  // Runs one step (marking launches into `marks` when profiling); false with a JS exception on error.
  bool Step(const Napi::CallbackInfo& info, Marks* marks) {
    Napi::Env env = info.Env();
    tsv::ForwardArgs a{};
    a.weights = weights_.data();
    a.kCache = kCache_.data();
    a.vCache = vCache_.data();
    a.buffers = buffers_.data();
    a.kvCacheScales = kvCacheScales_.data();
    a.stream = tsv::computeStream();
    if (marks) {
      a.afterLaunch = &Marks::after;
      a.afterLaunchContext = marks;
    }
    a.numTokens = info[0].As<Napi::TypedArray>().ElementLength();
    a.numLogitRows = info[5].As<Napi::TypedArray>().ElementLength();
    a.numSeqs = info[7].As<Napi::Number>().Int64Value();
    a.maxBlocksPerSeq = info[8].As<Napi::Number>().Int64Value();
    a.numBlocks = numBlocks_;
    a.maxTokens = maxTokens_;
    if (a.numTokens > maxTokens_ || a.numLogitRows > maxLogitRows_ || (int64_t)info[4].As<Napi::TypedArray>().ElementLength() > maxBlockTableEntries_) {
      Napi::RangeError::New(env, "step larger than the model was sized for").ThrowAsJavaScriptException();
      return false;
    }
    const size_t logitsBytes = (size_t)(a.numLogitRows * tsv_model_vocab_size) * sizeof(float);
    const bool wantLogits = typedArrayBytes(info[6]) > 0;
    if (wantLogits && typedArrayBytes(info[6]) < logitsBytes) {
      Napi::RangeError::New(env, "the logits array is smaller than [logits rows, vocab]").ThrowAsJavaScriptException();
      return false;
    }
    const bool withLora = info.Length() > 10 && !info[10].IsUndefined();
    if (withLora && (!info[10].IsTypedArray() || info[10].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || (int64_t)info[10].As<Napi::TypedArray>().ElementLength() != a.numTokens)) {
      Napi::TypeError::New(env, "loraSlots must be an Int32Array with one slot per token").ThrowAsJavaScriptException();
      return false;
    }
    int32_t* sampledOut = nullptr;
    int64_t numEdits = 0;
    if (info.Length() > 9 && !info[9].IsUndefined()) {
      const std::string problem = sampling_.read(info[9], a.numLogitRows, tsv_model_vocab_size, &a.numSampleRows, &sampledOut, &numEdits);
      if (!problem.empty()) {
        Napi::RangeError::New(env, "sampling: " + problem).ThrowAsJavaScriptException();
        return false;
      }
    }
    // Decode steps (one token per sequence) replay a graph, as vLLM captures decode batches; prefill
    // steps vary too much in shape to be worth capturing. A profiled step launches each kernel.
    const bool replay = graphsEnabled_ && !marks && a.numTokens == a.numSeqs && (int64_t)info[4].As<Napi::TypedArray>().ElementLength() == a.numSeqs * a.maxBlocksPerSeq;
    const int64_t tableWidth = replay ? graphTableWidth(a.numSeqs, a.maxBlocksPerSeq) : a.maxBlocksPerSeq;
    const void* inputs[kNumInputs];
    for (int i = 0; i < kNumInputs; i++) {
      inputs[i] = typedArrayData(info[i]);
      if (tsv::kernelsReadHostMemory()) continue;
      if (i == kBlockTables && tableWidth != a.maxBlocksPerSeq) {
        const auto padded = padRows(static_cast<const int32_t*>(inputs[i]), a.numSeqs, a.maxBlocksPerSeq, tableWidth);
        tsv::copyToDevice(stagedInputs_[i], padded.data(), padded.size() * sizeof(int32_t));
      } else {
        tsv::copyToDevice(stagedInputs_[i], inputs[i], typedArrayBytes(info[i]));
      }
      inputs[i] = stagedInputs_[i];
    }
    a.maxBlocksPerSeq = tableWidth;
    a.inputIds = static_cast<const int32_t*>(inputs[kInputIds]);
    a.positions = static_cast<const int32_t*>(inputs[kPositions]);
    a.slotMapping = static_cast<const int32_t*>(inputs[kSlotMapping]);
    a.seqIdx = static_cast<const int32_t*>(inputs[kSeqIdx]);
    a.blockTables = static_cast<const int32_t*>(inputs[kBlockTables]);
    a.logitsIndices = static_cast<const int32_t*>(inputs[kLogitsIndices]);
    if (withLora && tsv::kernelsReadHostMemory()) a.loraSlots = static_cast<const int32_t*>(typedArrayData(info[10]));
    if (withLora && !tsv::kernelsReadHostMemory()) {
      tsv::copyToDevice(stagedLoraSlots_, typedArrayData(info[10]), typedArrayBytes(info[10]));
      a.loraSlots = static_cast<const int32_t*>(stagedLoraSlots_);
    }
    if (tsv::kernelsReadHostMemory()) {
      // A step that wants no logits back on CPU still needs somewhere to put the ones it samples from.
      if (!wantLogits && hostLogits_.size() < logitsBytes / sizeof(float)) hostLogits_.resize(logitsBytes / sizeof(float));
      a.logits = wantLogits ? static_cast<float*>(typedArrayData(info[6])) : hostLogits_.data();
    } else {
      a.logits = static_cast<float*>(stagedLogits_);
      if (a.numSampleRows > 0) tsv::copyToDevice(stagedSampling_, sampling_.samples().data(), sampling_.samples().size() * sizeof(uint32_t));
      for (int c = 0; c < SamplingInputs::kEditInputs && numEdits > 0; c++) tsv::copyToDevice(static_cast<uint8_t*>(stagedEdits_) + (size_t)(c * sampling_.editStride()) * 4, sampling_.edits().data() + c * sampling_.editStride(), (size_t)numEdits * 4);
    }
    // The sampling inputs at fixed places (a graph replays their pointers): one column per input,
    // sampleStride() entries each, and on CUDA the token ids after them; the edits likewise.
    auto column = [&](int c) -> void* {
      auto* base = static_cast<uint8_t*>(tsv::kernelsReadHostMemory() ? static_cast<void*>(sampling_.samples().data()) : stagedSampling_);
      return base + (size_t)(c * sampling_.sampleStride()) * 4;
    };
    auto editColumn = [&](int c) -> void* {
      auto* base = static_cast<uint8_t*>(tsv::kernelsReadHostMemory() ? static_cast<void*>(sampling_.edits().data()) : stagedEdits_);
      return base + (size_t)(c * sampling_.editStride()) * 4;
    };
    a.sampleEditOffsets = static_cast<const int32_t*>(column(SamplingInputs::kEditOffsets));
    a.editTokenIds = static_cast<const int32_t*>(editColumn(0));
    a.editBias = static_cast<const float*>(editColumn(1));
    a.editRepetition = static_cast<const float*>(editColumn(2));
    a.editSubtract = static_cast<const float*>(editColumn(3));
    a.maxLogitEdits = sampling_.maxLogitEdits();
    a.sampleRowIndices = static_cast<const int32_t*>(column(0));
    a.sampleTemperature = static_cast<const float*>(column(1));
    a.sampleTopK = static_cast<const int32_t*>(column(2));
    a.sampleTopP = static_cast<const float*>(column(3));
    a.sampleMinP = static_cast<const float*>(column(4));
    a.sampleUniform = static_cast<const float*>(column(5));
    a.sampledTokenIds = tsv::kernelsReadHostMemory() ? sampledOut : static_cast<int32_t*>(column(SamplingInputs::kSampleInputs));
    // After the inputs' copies, so the first launch's time is its own.
    if (marks) marks->start.record();
    if (replay) {
      replayGraph(a);
    } else {
      tsv_model_forward(a);
    }
    if (!tsv::synchronizeOrThrow(env, "forward pass failed on the device")) return false;
    if (tsv::kernelsReadHostMemory()) return true;
    if (a.numSampleRows > 0) tsv::copyToHost(sampledOut, a.sampledTokenIds, (size_t)a.numSampleRows * sizeof(int32_t));
    if (wantLogits) tsv::copyToHost(typedArrayData(info[6]), stagedLogits_, logitsBytes);
    return true;
  }

  // A graph step's block tables are padded to a power-of-two width (entries past a sequence's
  // blocks are never read), so a sequence that grows by a block reuses the graph until the width
  // doubles; the padded table must still fit its staging buffer.
  int64_t graphTableWidth(int64_t numSeqs, int64_t width) const {
    int64_t padded = 1;
    while (padded < width) padded *= 2;
    padded = std::min(padded, std::max(width, numBlocks_));
    return numSeqs * padded <= maxBlockTableEntries_ ? padded : width;
  }

  static std::vector<int32_t> padRows(const int32_t* table, int64_t rows, int64_t width, int64_t paddedWidth) {
    std::vector<int32_t> out((size_t)(rows * paddedWidth), -1);
    for (int64_t r = 0; r < rows; r++) std::memcpy(out.data() + r * paddedWidth, table + r * width, (size_t)width * sizeof(int32_t));
    return out;
  }

  // The forward's launches (grids, dims, the split count) depend on the step's shape alone, and
  // every pointer it reads (weights, cache, buffers, staged inputs and logits) is fixed for the
  // model's life, so a graph captured once per shape replays any step of that shape. If capture
  // fails the model stops trying and launches directly.
  void replayGraph(const tsv::ForwardArgs& a) {
    const StepShape shape{a.numTokens, a.numSeqs, a.maxBlocksPerSeq, a.numLogitRows, a.numSampleRows, a.loraSlots != nullptr};
    auto it = graphs_.find(shape);
    if (it == graphs_.end()) {
      if (graphs_.size() >= kMaxGraphs) {
        tsv_model_forward(a);
        return;
      }
      tsv::Graph graph(tsv::captureGraph([](void* args) { tsv_model_forward(*static_cast<const tsv::ForwardArgs*>(args)); }, const_cast<tsv::ForwardArgs*>(&a)));
      if (!graph) {
        graphsEnabled_ = false;
        tsv_model_forward(a);
        return;
      }
      it = graphs_.emplace(shape, std::move(graph)).first;
    }
    tsv::launchGraph(it->second.get());
  }

  // copyBlocks(src: Int32Array, dst: Int32Array): copy-on-write of forked sequences' partial blocks.
  Napi::Value CopyBlocks(const Napi::CallbackInfo& info) {
    auto src = info[0].As<Napi::Int32Array>();
    auto dst = info[1].As<Napi::Int32Array>();
    const size_t bytes = (size_t)tsv_model_kv_block_bytes;
    for (size_t l = 0; l < kCache_.size(); l++)
      for (size_t i = 0; i < src.ElementLength(); i++) {
        tsv::copyOnDevice(static_cast<uint8_t*>(kCache_[l]) + dst[i] * bytes, static_cast<uint8_t*>(kCache_[l]) + src[i] * bytes, bytes);
        tsv::copyOnDevice(static_cast<uint8_t*>(vCache_[l]) + dst[i] * bytes, static_cast<uint8_t*>(vCache_[l]) + src[i] * bytes, bytes);
      }
    return info.Env().Undefined();
  }

  // initializeSwapSpace(numBlocks): host memory for preempted sequences' KV (swap_space.h).
  Napi::Value InitializeSwapSpace(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int64Value() < 0) {
      Napi::TypeError::New(env, "initializeSwapSpace(numBlocks) expects a block count, 0 or more").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!swapSpace_.allocate(tsv_model_num_layers, info[0].As<Napi::Number>().Int64Value(), tsv_model_kv_block_bytes)) outOfMemory(env, "the swap space");
    return env.Undefined();
  }

  // swapBlocks(swapOut: Int32Array, swapIn: Int32Array): [n, 2] pairs of (cache block, swap block)
  // copied to the swap space, then [n, 2] pairs of (swap block, cache block) copied back, every
  // layer's keys and values. Ids are checked first, so a bad pair copies nothing.
  Napi::Value SwapBlocks(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      Napi::TypeError::New(env, "swapBlocks(swapOut, swapIn) expects two Int32Arrays of (src, dst) pairs").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto out = info[0].As<Napi::Int32Array>();
    auto in = info[1].As<Napi::Int32Array>();
    const auto valid = [](const Napi::Int32Array& pairs, int64_t srcLimit, int64_t dstLimit) {
      if (pairs.ElementLength() % 2 != 0) return false;
      for (size_t i = 0; i < pairs.ElementLength(); i += 2)
        if (pairs[i] < 0 || pairs[i] >= srcLimit || pairs[i + 1] < 0 || pairs[i + 1] >= dstLimit) return false;
      return true;
    };
    const int64_t numSwapBlocks = swapSpace_.numBlocks();
    if (!valid(out, numBlocks_, numSwapBlocks) || !valid(in, numSwapBlocks, numBlocks_)) {
      Napi::RangeError::New(env, "swapBlocks: a pair is incomplete or names a block outside the cache's " + std::to_string(numBlocks_) + " or the swap space's " + std::to_string(numSwapBlocks) + " blocks")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    swapSpace_.swap(kCache_, vCache_, out.Data(), out.ElementLength() / 2, in.Data(), in.ElementLength() / 2);
    tsv::synchronizeOrThrow(env, "swapping KV blocks failed");
    return env.Undefined();
  }

  // writeWeight(index, byteOffset, data: TypedArray): overwrites part of a weight where its kernels
  // read it (a LoRA slot's tables when an adapter is put there); checked against the weight's size.
  Napi::Value WriteWeight(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsTypedArray()) {
      Napi::TypeError::New(env, "writeWeight(index, byteOffset, data) expects two numbers and a typed array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const int64_t index = info[0].As<Napi::Number>().Int64Value();
    const int64_t offset = info[1].As<Napi::Number>().Int64Value();
    const size_t bytes = typedArrayBytes(info[2]);
    if (index < 0 || index >= (int64_t)weights_.size() || offset < 0 || (size_t)offset + bytes > weightBytes_[index]) {
      Napi::RangeError::New(env, "writeWeight: weight " + std::to_string(index) + " has no bytes " + std::to_string(offset) + ".." + std::to_string(offset + bytes)).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    tsv::copyToDevice(static_cast<uint8_t*>(weights_[index]) + offset, typedArrayData(info[2]), bytes);
    tsv::synchronizeOrThrow(env, "writing a weight failed");
    return env.Undefined();
  }

  void outOfMemory(Napi::Env env, const char* what) {
    Napi::Error::New(env, std::string("out of memory allocating ") + what).ThrowAsJavaScriptException();
  }

  std::vector<Napi::ObjectReference> weightRefs_;
  std::vector<DeviceMemory> owned_;
  std::vector<void*> weights_, kCache_, vCache_, buffers_;
  std::vector<size_t> weightBytes_;
  std::vector<double> kvCacheScales_;
  tsv::SwapSpace swapSpace_;
  void* stagedInputs_[kNumInputs] = {};
  void* stagedLogits_ = nullptr;
  void* stagedLoraSlots_ = nullptr;
  // The sampling inputs on the host, and on CUDA their device copy (the sample columns followed by
  // a column of sampled token ids, then the edit columns).
  SamplingInputs sampling_;
  void* stagedSampling_ = nullptr;
  void* stagedEdits_ = nullptr;
  std::vector<float> hostLogits_;
  int64_t numBlocks_ = 0, maxTokens_ = 0, maxLogitRows_ = 0, maxBlockTableEntries_ = 0;
  // numTokens, numSeqs, maxBlocksPerSeq (padded), numLogitRows, numSampleRows, whether LoRA runs.
  using StepShape = std::array<int64_t, 6>;
  static constexpr size_t kMaxGraphs = 512;
  std::map<StepShape, tsv::Graph> graphs_;
  bool graphsEnabled_ = false;
};

// deviceMemory(): { free, total } bytes of the device (zeros on CPU); throws when there is none.
Napi::Value QueryDeviceMemory(const Napi::CallbackInfo& info) {
  size_t free = 0, total = 0;
  const std::string noDevice = tsv::deviceMemory(&free, &total);
  if (!noDevice.empty()) {
    Napi::Error::New(info.Env(), "no usable CUDA device (" + noDevice + ")").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto out = Napi::Object::New(info.Env());
  out.Set("free", (double)free);
  out.Set("total", (double)total);
  return out;
}

}  // namespace

void tsvRegisterModel(Napi::Env env, Napi::Object exports) {
  exports.Set("Model", Model::Define(env));
  exports.Set("deviceMemory", Napi::Function::New(env, QueryDeviceMemory, "deviceMemory"));
  exports.Set("backend", Napi::String::New(env, tsv::kernelsReadHostMemory() ? "cpu" : "cuda"));
}
