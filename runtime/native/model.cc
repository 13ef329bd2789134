// The native model object: holds the weights, the paged KV cache and the activation buffers, and
// runs the generated forward pass: one native call per engine step. On CPU the weights are the JS
// buffers themselves (referenced, not copied); in CUDA builds they are uploaded once and each
// step's inputs go up and its logits come back. Builds without a model (kernel-test addons) link
// no forward pass; constructing a Model then throws.
#include <napi.h>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include "device_errors.h"
#include "forward_abi.h"
#include "memory.h"

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

void* dataOf(const Napi::Value& v) {
  auto ta = v.As<Napi::TypedArray>();
  return static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
}

size_t bytesOf(const Napi::Value& v) { return v.As<Napi::TypedArray>().ByteLength(); }

enum Input { kInputIds, kPositions, kSlotMapping, kSeqIdx, kBlockTables, kLogitsIndices, kNumInputs };

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model", {InstanceMethod("forward", &Model::Forward), InstanceMethod("profile", &Model::Profile), InstanceMethod("copyBlocks", &Model::CopyBlocks)});
  }

  // new Model(weights: TypedArray[], { numBlocks, maxTokens, maxLogitRows, maxBlockTableEntries })
  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
    Napi::Env env = info.Env();
    if (!tsv_model_forward) {
      Napi::Error::New(env, "this addon was built without a model forward pass").ThrowAsJavaScriptException();
      return;
    }
    auto weights = info[0].As<Napi::Array>();
    if (weights.Length() != tsv_model_weight_count) {
      Napi::Error::New(env, "expected " + std::to_string(tsv_model_weight_count) + " weights, got " + std::to_string(weights.Length())).ThrowAsJavaScriptException();
      return;
    }
    for (uint32_t i = 0; i < weights.Length(); i++) {
      if (tsv::kernelsReadHostMemory()) {
        weightRefs_.push_back(Napi::Persistent(weights.Get(i).As<Napi::Object>()));
        weights_.push_back(dataOf(weights.Get(i)));
      } else {
        owned_.push_back(tsv::deviceBuffer(bytesOf(weights.Get(i))));
        if (!owned_.back()) { outOfMemory(env, "weights"); return; }
        tsv::copyToDevice(owned_.back().get(), dataOf(weights.Get(i)), bytesOf(weights.Get(i)));
        weights_.push_back(owned_.back().get());
      }
    }
    auto opts = info[1].As<Napi::Object>();
    numBlocks_ = opts.Get("numBlocks").As<Napi::Number>().Int64Value();
    maxTokens_ = opts.Get("maxTokens").As<Napi::Number>().Int64Value();
    maxLogitRows_ = opts.Get("maxLogitRows").As<Napi::Number>().Int64Value();
    maxBlockTableEntries_ = opts.Get("maxBlockTableEntries").As<Napi::Number>().Int64Value();
    for (int64_t l = 0; l < tsv_model_num_layers; l++) {
      for (auto* cache : {&kCache_, &vCache_}) {
        owned_.push_back(tsv::deviceBuffer((size_t)(numBlocks_ * tsv_model_kv_block_bytes)));
        if (!owned_.back()) { outOfMemory(env, "the KV cache"); return; }
        cache->push_back(owned_.back().get());
      }
    }
    for (size_t b = 0; b < tsv_model_buffer_count; b++) {
      const auto& spec = tsv_model_buffers[b];
      owned_.push_back(tsv::deviceBuffer((size_t)(spec.bytesPerRow * (spec.rows == 0 ? maxTokens_ : maxLogitRows_))));
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
      owned_.push_back(tsv::deviceBuffer((size_t)(maxLogitRows_ * tsv_model_vocab_size * 4)));
      stagedLogits_ = owned_.back().get();
      if (!stagedLogits_) { outOfMemory(env, "logits"); return; }
    }
    tsv::synchronizeOrThrow(env, "uploading the weights failed");
  }

 private:
  // forward(inputIds, positions, slotMapping, seqIdx, blockTables, logitsIndices, logits, numSeqs, maxBlocksPerSeq)
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
    if (marks) {
      a.afterLaunch = &Marks::after;
      a.afterLaunchContext = marks;
    }
    const void* inputs[kNumInputs];
    for (int i = 0; i < kNumInputs; i++) {
      inputs[i] = dataOf(info[i]);
      if (!tsv::kernelsReadHostMemory()) {
        tsv::copyToDevice(stagedInputs_[i], inputs[i], bytesOf(info[i]));
        inputs[i] = stagedInputs_[i];
      }
    }
    a.inputIds = static_cast<const int32_t*>(inputs[kInputIds]);
    a.positions = static_cast<const int32_t*>(inputs[kPositions]);
    a.slotMapping = static_cast<const int32_t*>(inputs[kSlotMapping]);
    a.seqIdx = static_cast<const int32_t*>(inputs[kSeqIdx]);
    a.blockTables = static_cast<const int32_t*>(inputs[kBlockTables]);
    a.logitsIndices = static_cast<const int32_t*>(inputs[kLogitsIndices]);
    // After the inputs' copies, so the first launch's time is its own.
    if (marks) marks->start.record();
    a.logits = static_cast<float*>(tsv::kernelsReadHostMemory() ? dataOf(info[6]) : stagedLogits_);
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
    tsv_model_forward(a);
    if (!tsv::synchronizeOrThrow(env, "forward pass failed on the device")) return false;
    if (!tsv::kernelsReadHostMemory()) tsv::copyToHost(dataOf(info[6]), stagedLogits_, bytesOf(info[6]));
    return true;
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

  void outOfMemory(Napi::Env env, const char* what) {
    Napi::Error::New(env, std::string("out of memory allocating ") + what).ThrowAsJavaScriptException();
  }

  std::vector<Napi::ObjectReference> weightRefs_;
  std::vector<DeviceMemory> owned_;
  std::vector<void*> weights_, kCache_, vCache_, buffers_;
  void* stagedInputs_[kNumInputs] = {};
  void* stagedLogits_ = nullptr;
  int64_t numBlocks_ = 0, maxTokens_ = 0, maxLogitRows_ = 0, maxBlockTableEntries_ = 0;
};

}  // namespace

void tsvRegisterModel(Napi::Env env, Napi::Object exports) { exports.Set("Model", Model::Define(env)); }
