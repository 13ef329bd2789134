// The native model object: holds the weights (references to the JS buffers, so no copy), the
// paged KV cache and the activation buffers, and runs the generated forward pass: one native call
// per engine step. Builds without a model (kernel-test addons) link no forward pass; createModel
// then throws.
#include <napi.h>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include "forward_abi.h"

extern "C" __attribute__((weak)) void tsv_model_forward(const tsv::ForwardArgs& args);
extern "C" __attribute__((weak)) const tsv::BufferSpec tsv_model_buffers[];
extern "C" __attribute__((weak)) const size_t tsv_model_buffer_count;
extern "C" __attribute__((weak)) const char* const tsv_model_weight_names[];
extern "C" __attribute__((weak)) const size_t tsv_model_weight_count;
extern "C" __attribute__((weak)) const int64_t tsv_model_kv_block_bytes;
extern "C" __attribute__((weak)) const int64_t tsv_model_num_layers;

namespace {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using Memory = std::unique_ptr<void, AlignedFree>;

Memory allocate(size_t bytes) {
  const size_t rounded = ((bytes + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (p) std::memset(p, 0, rounded == 0 ? 64 : rounded);
  return Memory(p);
}

void* dataOf(const Napi::Value& v) {
  auto ta = v.As<Napi::TypedArray>();
  return static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
}

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model", {InstanceMethod("forward", &Model::Forward), InstanceMethod("copyBlocks", &Model::CopyBlocks)});
  }

  // new Model(weights: TypedArray[], { numBlocks, maxTokens, maxLogitRows })
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
      weightRefs_.push_back(Napi::Persistent(weights.Get(i).As<Napi::Object>()));
      weights_.push_back(dataOf(weights.Get(i)));
    }
    auto opts = info[1].As<Napi::Object>();
    numBlocks_ = opts.Get("numBlocks").As<Napi::Number>().Int64Value();
    maxTokens_ = opts.Get("maxTokens").As<Napi::Number>().Int64Value();
    maxLogitRows_ = opts.Get("maxLogitRows").As<Napi::Number>().Int64Value();
    for (int64_t l = 0; l < tsv_model_num_layers; l++) {
      kStore_.push_back(allocate((size_t)(numBlocks_ * tsv_model_kv_block_bytes)));
      vStore_.push_back(allocate((size_t)(numBlocks_ * tsv_model_kv_block_bytes)));
      if (!kStore_.back() || !vStore_.back()) {
        Napi::Error::New(env, "out of memory allocating the KV cache").ThrowAsJavaScriptException();
        return;
      }
      kCache_.push_back(kStore_.back().get());
      vCache_.push_back(vStore_.back().get());
    }
    for (size_t b = 0; b < tsv_model_buffer_count; b++) {
      const auto& spec = tsv_model_buffers[b];
      bufferStore_.push_back(allocate((size_t)(spec.bytesPerRow * (spec.rows == 0 ? maxTokens_ : maxLogitRows_))));
      buffers_.push_back(bufferStore_.back().get());
    }
  }

 private:
  // forward(inputIds, positions, slotMapping, seqIdx, blockTables, logitsIndices, logits, numSeqs, maxBlocksPerSeq)
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    tsv::ForwardArgs a{};
    a.weights = weights_.data();
    a.kCache = kCache_.data();
    a.vCache = vCache_.data();
    a.buffers = buffers_.data();
    a.inputIds = static_cast<const int32_t*>(dataOf(info[0]));
    a.positions = static_cast<const int32_t*>(dataOf(info[1]));
    a.slotMapping = static_cast<const int32_t*>(dataOf(info[2]));
    a.seqIdx = static_cast<const int32_t*>(dataOf(info[3]));
    a.blockTables = static_cast<const int32_t*>(dataOf(info[4]));
    a.logitsIndices = static_cast<const int32_t*>(dataOf(info[5]));
    a.logits = static_cast<float*>(dataOf(info[6]));
    a.numTokens = info[0].As<Napi::TypedArray>().ElementLength();
    a.numLogitRows = info[5].As<Napi::TypedArray>().ElementLength();
    a.numSeqs = info[7].As<Napi::Number>().Int64Value();
    a.maxBlocksPerSeq = info[8].As<Napi::Number>().Int64Value();
    a.numBlocks = numBlocks_;
    if (a.numTokens > maxTokens_ || a.numLogitRows > maxLogitRows_) {
      Napi::RangeError::New(env, "step larger than the model was sized for").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    tsv_model_forward(a);
    return env.Undefined();
  }

  // copyBlocks(src: Int32Array, dst: Int32Array): copy-on-write of forked sequences' partial blocks.
  Napi::Value CopyBlocks(const Napi::CallbackInfo& info) {
    auto src = info[0].As<Napi::Int32Array>();
    auto dst = info[1].As<Napi::Int32Array>();
    const size_t bytes = (size_t)tsv_model_kv_block_bytes;
    for (size_t l = 0; l < kCache_.size(); l++)
      for (size_t i = 0; i < src.ElementLength(); i++) {
        std::memcpy(static_cast<uint8_t*>(kCache_[l]) + dst[i] * bytes, static_cast<uint8_t*>(kCache_[l]) + src[i] * bytes, bytes);
        std::memcpy(static_cast<uint8_t*>(vCache_[l]) + dst[i] * bytes, static_cast<uint8_t*>(vCache_[l]) + src[i] * bytes, bytes);
      }
    return info.Env().Undefined();
  }

  std::vector<Napi::ObjectReference> weightRefs_;
  std::vector<void*> weights_;
  std::vector<Memory> kStore_, vStore_, bufferStore_;
  std::vector<void*> kCache_, vCache_, buffers_;
  int64_t numBlocks_ = 0, maxTokens_ = 0, maxLogitRows_ = 0;
};

}  // namespace

void tsvRegisterModel(Napi::Env env, Napi::Object exports) { exports.Set("Model", Model::Define(env)); }
