// The native sampler: every per-vocabulary loop of sampling lives here, never in JavaScript.
// JS side and field documentation: runtime/engine/sampler.ts and runtime/engine/sampler-addon.ts.
//
// Layout: logits f32 [numLogitRows, vocabSize], read only. Each sample row r reads logits row
// rowIndices[r] into a scratch copy, so several sample rows can share one logits row (the n
// sequences forked from one prompt) and log-probs always come from the model's raw output.
// Per-row lists (history, logit bias, allowed ids, banned ids, bad words) are CSR: an offsets array
// of numRows + 1 entries into one flat values array.
//
// Transform order follows vLLM v1: allowed_token_ids, bad_words, min_tokens bans, logit_bias,
// repetition/frequency/presence penalties, then greedy argmax (temperature 0) or temperature,
// min_p, top_k, top_p and an inverse-CDF draw from a counter-based RNG keyed by
// (seed, sequence index, step), so a row's draw never depends on the rest of the batch.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "sampling_rng.h"
#include "tsvllm_parallel.h"

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// vLLM's _SAMPLING_EPS: temperatures below it mean greedy.
constexpr float kSamplingEps = 1e-5f;

template <typename T>
struct Span {
  const T* data = nullptr;
  int64_t size = 0;
  const T& operator[](int64_t i) const { return data[i]; }
};

template <typename T>
struct MutSpan {
  T* data = nullptr;
  int64_t size = 0;
};

template <typename T>
napi_typedarray_type typedArrayTypeOf();
template <>
napi_typedarray_type typedArrayTypeOf<float>() { return napi_float32_array; }
template <>
napi_typedarray_type typedArrayTypeOf<int32_t>() { return napi_int32_array; }
template <>
napi_typedarray_type typedArrayTypeOf<uint32_t>() { return napi_uint32_array; }

// Reads typed fields of the batch object, remembering the first problem instead of throwing
// (the addon is built with NAPI_DISABLE_CPP_EXCEPTIONS).
class BatchReader {
 public:
  explicit BatchReader(Napi::Object obj) : obj_(obj) {}

  template <typename T>
  MutSpan<T> array(const char* name, int64_t minLength) {
    MutSpan<T> out;
    if (!error.empty()) return out;
    Napi::Value v = obj_.Get(name);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != typedArrayTypeOf<T>()) {
      error = std::string("sampler batch field '") + name + "' must be a " + typeName<T>();
      return out;
    }
    auto ta = v.As<Napi::TypedArrayOf<T>>();
    out.data = ta.Data();
    out.size = static_cast<int64_t>(ta.ElementLength());
    if (out.size < minLength) {
      error = std::string("sampler batch field '") + name + "' has " + std::to_string(out.size) +
              " elements, needs " + std::to_string(minLength);
    }
    return out;
  }

  template <typename T>
  Span<T> input(const char* name, int64_t minLength) {
    MutSpan<T> m = array<T>(name, minLength);
    return Span<T>{m.data, m.size};
  }

  int64_t integer(const char* name) {
    if (!error.empty()) return 0;
    Napi::Value v = obj_.Get(name);
    if (!v.IsNumber()) {
      error = std::string("sampler batch field '") + name + "' must be a number";
      return 0;
    }
    return v.As<Napi::Number>().Int64Value();
  }

  // Offsets of a CSR list: numRows + 1 entries, non-decreasing from 0.
  Span<int32_t> offsets(const char* name, int64_t numRows) {
    Span<int32_t> o = input<int32_t>(name, numRows + 1);
    if (!error.empty()) return o;
    if (o[0] != 0) error = std::string(name) + "[0] must be 0";
    for (int64_t r = 0; r < numRows && error.empty(); r++) {
      if (o[r + 1] < o[r]) error = std::string(name) + " must be non-decreasing";
    }
    return o;
  }

  // A CSR list: offsets[numRows + 1] and values[offsets[numRows]].
  template <typename T>
  void csr(const char* offsetsName, const char* valuesName, int64_t numRows, Span<int32_t>& o, Span<T>& values) {
    o = offsets(offsetsName, numRows);
    if (error.empty()) values = input<T>(valuesName, o[numRows]);
  }

  void checkTokenIds(const char* name, Span<int32_t> ids, int64_t count, int64_t vocabSize) {
    for (int64_t i = 0; i < count && error.empty(); i++) {
      if (ids[i] < 0 || ids[i] >= vocabSize) error = std::string(name) + " holds token id " + std::to_string(ids[i]) + " outside the vocabulary";
    }
  }

  std::string error;

 private:
  template <typename T>
  static const char* typeName() {
    if (typedArrayTypeOf<T>() == napi_float32_array) return "Float32Array";
    if (typedArrayTypeOf<T>() == napi_int32_array) return "Int32Array";
    return "Uint32Array";
  }
  Napi::Object obj_;
};

// The raw logits and the log-prob outputs shared by sampling and prompt log-probs.
struct LogprobTarget {
  int32_t* tokenIds;
  float* logprobs;
  int32_t* ranks;
  int64_t width;  // max requested top-N + 1: slot 0 is the chosen token, then the top-N
};

struct SampleBatch {
  int64_t numRows = 0, vocabSize = 0;
  Span<float> logits;
  Span<int32_t> rowIndices;
  Span<float> temperature, topP, minP, presencePenalty, frequencyPenalty, repetitionPenalty;
  Span<int32_t> topK;
  Span<uint32_t> rng;  // [numRows, 4]: seed low 32 bits, seed high 32 bits, sequence index, step
  Span<int32_t> historyOffsets, historyTokens, promptLens;
  Span<int32_t> biasOffsets;
  Span<int32_t> biasTokenIds;
  Span<float> biasValues;
  Span<int32_t> allowedOffsets, allowedTokenIds;
  Span<int32_t> bannedOffsets, bannedTokenIds;
  Span<int32_t> badWordOffsets, badWordStarts, badWordTokens;
  Span<int32_t> numLogprobs;
  int32_t* sampledTokenIds = nullptr;
  LogprobTarget logprobOut{};
};

struct Scratch {
  std::vector<float> row;
  std::vector<float> values;
  std::vector<int32_t> indices;
  std::vector<int32_t> tokens;
};

Scratch& threadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Greater logit first; the lower token id wins ties, so every ordering is deterministic.
struct ByLogitDesc {
  const float* x;
  bool operator()(int32_t a, int32_t b) const { return x[a] > x[b] || (x[a] == x[b] && a < b); }
};

int32_t argmaxLowestIndex(const float* x, int64_t n) {
  int32_t best = 0;
  for (int64_t i = 1; i < n; i++) {
    if (x[i] > x[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

double logSumExp(const float* x, int64_t n) {
  float maxValue = kNegInf;
  for (int64_t i = 0; i < n; i++) maxValue = std::max(maxValue, x[i]);
  if (maxValue == kNegInf) return kNegInf;
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += std::exp(static_cast<double>(x[i]) - maxValue);
  return maxValue + std::log(sum);
}

// Log-probs of one raw logits row: the target token (slot 0, rank = how many tokens score at least
// as high, as vLLM counts) and the top-N tokens (ranks 1..N). Unused slots get token id -1.
void writeLogprobs(const float* raw, int64_t vocabSize, int32_t target, int32_t topN, const LogprobTarget& out, int64_t outRow, Scratch& s) {
  const double lse = logSumExp(raw, vocabSize);
  int32_t* ids = out.tokenIds + outRow * out.width;
  float* values = out.logprobs + outRow * out.width;
  int32_t* ranks = out.ranks + outRow * out.width;
  for (int64_t j = 0; j < out.width; j++) {
    ids[j] = -1;
    values[j] = 0;
    ranks[j] = 0;
  }
  int32_t rank = 0;
  for (int64_t i = 0; i < vocabSize; i++) rank += raw[i] >= raw[target] ? 1 : 0;
  ids[0] = target;
  values[0] = static_cast<float>(raw[target] - lse);
  ranks[0] = rank;
  const int64_t n = std::min<int64_t>({static_cast<int64_t>(topN), vocabSize, out.width - 1});
  if (n <= 0) return;
  s.indices.resize(vocabSize);
  for (int64_t i = 0; i < vocabSize; i++) s.indices[i] = static_cast<int32_t>(i);
  std::partial_sort(s.indices.begin(), s.indices.begin() + n, s.indices.end(), ByLogitDesc{raw});
  for (int64_t j = 0; j < n; j++) {
    ids[j + 1] = s.indices[j];
    values[j + 1] = static_cast<float>(raw[s.indices[j]] - lse);
    ranks[j + 1] = static_cast<int32_t>(j + 1);
  }
}

void applyAllowed(float* x, int64_t vocabSize, const int32_t* allowed, int64_t count, Scratch& s) {
  if (count == 0) return;
  s.values.resize(count);
  for (int64_t i = 0; i < count; i++) s.values[i] = x[allowed[i]];
  std::fill(x, x + vocabSize, kNegInf);
  for (int64_t i = 0; i < count; i++) x[allowed[i]] = s.values[i];
}

// A bad word of several tokens bans its last token only when the output already ends with the
// rest of it; a single-token bad word is always banned.
void applyBadWords(float* x, const SampleBatch& b, int64_t r) {
  const int32_t* history = b.historyTokens.data + b.historyOffsets[r];
  const int64_t historyLen = b.historyOffsets[r + 1] - b.historyOffsets[r];
  const int64_t outputLen = historyLen - b.promptLens[r];
  for (int32_t w = b.badWordOffsets[r]; w < b.badWordOffsets[r + 1]; w++) {
    const int32_t* word = b.badWordTokens.data + b.badWordStarts[w];
    const int64_t len = b.badWordStarts[w + 1] - b.badWordStarts[w];
    if (len == 0) continue;
    const int64_t prefixLen = len - 1;
    if (prefixLen > outputLen) continue;
    if (std::equal(word, word + prefixLen, history + historyLen - prefixLen)) x[word[prefixLen]] = kNegInf;
  }
}

void applyPenalties(float* x, const SampleBatch& b, int64_t r, Scratch& s) {
  const float repetition = b.repetitionPenalty[r], frequency = b.frequencyPenalty[r], presence = b.presencePenalty[r];
  const int32_t* history = b.historyTokens.data + b.historyOffsets[r];
  const int64_t historyLen = b.historyOffsets[r + 1] - b.historyOffsets[r];
  if (repetition != 1.0f && historyLen > 0) {
    s.tokens.assign(history, history + historyLen);
    std::sort(s.tokens.begin(), s.tokens.end());
    const auto end = std::unique(s.tokens.begin(), s.tokens.end());
    for (auto it = s.tokens.begin(); it != end; ++it) x[*it] = x[*it] > 0 ? x[*it] / repetition : x[*it] * repetition;
  }
  if ((frequency != 0.0f || presence != 0.0f) && historyLen > b.promptLens[r]) {
    s.tokens.assign(history + b.promptLens[r], history + historyLen);
    std::sort(s.tokens.begin(), s.tokens.end());
    for (size_t i = 0; i < s.tokens.size();) {
      size_t j = i;
      while (j < s.tokens.size() && s.tokens[j] == s.tokens[i]) j++;
      x[s.tokens[i]] -= frequency * static_cast<float>(j - i) + presence;
      i = j;
    }
  }
}

// min_p keeps tokens whose probability is at least min_p times the top probability.
void applyMinP(float* x, int64_t vocabSize, float minP) {
  float maxValue = kNegInf;
  for (int64_t i = 0; i < vocabSize; i++) maxValue = std::max(maxValue, x[i]);
  for (int64_t i = 0; i < vocabSize; i++) {
    if (std::exp(static_cast<double>(x[i]) - maxValue) < minP) x[i] = kNegInf;
  }
}

// top_k keeps every token scoring at least the k-th largest logit (ties at the cut are kept, as
// vLLM's threshold mask does).
void applyTopK(float* x, int64_t vocabSize, int64_t k, Scratch& s) {
  if (k <= 0 || k >= vocabSize) return;
  s.values.assign(x, x + vocabSize);
  std::nth_element(s.values.begin(), s.values.begin() + (k - 1), s.values.end(), std::greater<float>());
  const float threshold = s.values[k - 1];
  for (int64_t i = 0; i < vocabSize; i++) {
    if (x[i] < threshold) x[i] = kNegInf;
  }
}

// top_p keeps the most likely tokens until their probability mass reaches p (a token is kept
// when the mass strictly before it is below p). Sorting grows geometrically, so a peaked
// distribution over a large vocabulary only sorts its head.
void applyTopP(float* x, int64_t vocabSize, float p, Scratch& s) {
  if (p >= 1.0f) return;
  float maxValue = kNegInf;
  for (int64_t i = 0; i < vocabSize; i++) maxValue = std::max(maxValue, x[i]);
  s.indices.clear();
  double total = 0;
  for (int64_t i = 0; i < vocabSize; i++) {
    if (x[i] == kNegInf) continue;
    s.indices.push_back(static_cast<int32_t>(i));
    total += std::exp(static_cast<double>(x[i]) - maxValue);
  }
  const int64_t n = static_cast<int64_t>(s.indices.size());
  int64_t sorted = 0, keep = n;
  double mass = 0;
  for (int64_t want = std::min<int64_t>(n, 256); sorted < n && keep == n; want = std::min<int64_t>(n, want * 4)) {
    std::partial_sort(s.indices.begin() + sorted, s.indices.begin() + want, s.indices.end(), ByLogitDesc{x});
    for (; sorted < want && keep == n; sorted++) {
      mass += std::exp(static_cast<double>(x[s.indices[sorted]]) - maxValue) / total;
      if (mass >= p) keep = sorted + 1;
    }
  }
  for (int64_t j = keep; j < n; j++) x[s.indices[j]] = kNegInf;
}

int32_t drawInverseCdf(const float* x, int64_t vocabSize, double u) {
  float maxValue = kNegInf;
  for (int64_t i = 0; i < vocabSize; i++) maxValue = std::max(maxValue, x[i]);
  if (maxValue == kNegInf) return 0;
  double total = 0;
  for (int64_t i = 0; i < vocabSize; i++) total += std::exp(static_cast<double>(x[i]) - maxValue);
  const double target = u * total;
  double acc = 0;
  int32_t last = 0;
  for (int64_t i = 0; i < vocabSize; i++) {
    if (x[i] == kNegInf) continue;
    acc += std::exp(static_cast<double>(x[i]) - maxValue);
    last = static_cast<int32_t>(i);
    if (acc > target) return last;
  }
  return last;
}

int32_t sampleRow(const SampleBatch& b, int64_t r, Scratch& s) {
  const int64_t V = b.vocabSize;
  const float* raw = b.logits.data + static_cast<int64_t>(b.rowIndices[r]) * V;
  s.row.assign(raw, raw + V);
  float* x = s.row.data();
  applyAllowed(x, V, b.allowedTokenIds.data + b.allowedOffsets[r], b.allowedOffsets[r + 1] - b.allowedOffsets[r], s);
  applyBadWords(x, b, r);
  for (int32_t i = b.bannedOffsets[r]; i < b.bannedOffsets[r + 1]; i++) x[b.bannedTokenIds[i]] = kNegInf;
  for (int32_t i = b.biasOffsets[r]; i < b.biasOffsets[r + 1]; i++) x[b.biasTokenIds[i]] += b.biasValues[i];
  applyPenalties(x, b, r, s);

  int32_t token;
  const float temperature = b.temperature[r];
  if (temperature < kSamplingEps) {
    token = argmaxLowestIndex(x, V);
  } else {
    for (int64_t i = 0; i < V; i++) x[i] /= temperature;
    if (b.minP[r] > 0.0f) applyMinP(x, V, b.minP[r]);
    applyTopK(x, V, b.topK[r], s);
    applyTopP(x, V, b.topP[r], s);
    token = drawInverseCdf(x, V, tsv::uniformForKey(b.rng.data + r * 4));
  }
  if (b.numLogprobs[r] >= 0) writeLogprobs(raw, V, token, b.numLogprobs[r], b.logprobOut, r, s);
  return token;
}

bool readSampleBatch(BatchReader& in, SampleBatch& b) {
  b.numRows = in.integer("numRows");
  b.vocabSize = in.integer("vocabSize");
  if (in.error.empty() && (b.numRows < 0 || b.vocabSize <= 0)) in.error = "numRows must be >= 0 and vocabSize > 0";
  const int64_t R = b.numRows;
  b.logits = in.input<float>("logits", 0);
  b.rowIndices = in.input<int32_t>("rowIndices", R);
  for (int64_t r = 0; r < R && in.error.empty(); r++) {
    if (b.rowIndices[r] < 0 || (static_cast<int64_t>(b.rowIndices[r]) + 1) * b.vocabSize > b.logits.size) in.error = "rowIndices points past the logits";
  }
  b.temperature = in.input<float>("temperature", R);
  b.topP = in.input<float>("topP", R);
  b.topK = in.input<int32_t>("topK", R);
  b.minP = in.input<float>("minP", R);
  b.presencePenalty = in.input<float>("presencePenalty", R);
  b.frequencyPenalty = in.input<float>("frequencyPenalty", R);
  b.repetitionPenalty = in.input<float>("repetitionPenalty", R);
  b.rng = in.input<uint32_t>("rng", R * 4);
  in.csr("historyOffsets", "historyTokens", R, b.historyOffsets, b.historyTokens);
  b.promptLens = in.input<int32_t>("promptLens", R);
  for (int64_t r = 0; r < R && in.error.empty(); r++) {
    if (b.promptLens[r] < 0 || b.promptLens[r] > b.historyOffsets[r + 1] - b.historyOffsets[r]) in.error = "promptLens exceeds the row's history";
  }
  in.csr("biasOffsets", "biasTokenIds", R, b.biasOffsets, b.biasTokenIds);
  if (in.error.empty()) b.biasValues = in.input<float>("biasValues", b.biasOffsets[R]);
  in.csr("allowedOffsets", "allowedTokenIds", R, b.allowedOffsets, b.allowedTokenIds);
  in.csr("bannedOffsets", "bannedTokenIds", R, b.bannedOffsets, b.bannedTokenIds);
  // Bad words are a CSR of CSRs: row r owns words badWordOffsets[r]..badWordOffsets[r + 1], and
  // word w is badWordTokens[badWordStarts[w]..badWordStarts[w + 1]].
  b.badWordOffsets = in.offsets("badWordOffsets", R);
  if (in.error.empty()) {
    const int64_t numWords = b.badWordOffsets[R];
    b.badWordStarts = in.offsets("badWordStarts", numWords);
    if (in.error.empty()) b.badWordTokens = in.input<int32_t>("badWordTokens", b.badWordStarts[numWords]);
    if (in.error.empty()) in.checkTokenIds("badWordTokens", b.badWordTokens, b.badWordStarts[numWords], b.vocabSize);
  }
  b.numLogprobs = in.input<int32_t>("numLogprobs", R);
  const int64_t width = in.integer("logprobWidth");
  MutSpan<int32_t> sampled = in.array<int32_t>("sampledTokenIds", R);
  MutSpan<int32_t> lpIds = in.array<int32_t>("logprobTokenIds", R * width);
  MutSpan<float> lpValues = in.array<float>("logprobValues", R * width);
  MutSpan<int32_t> lpRanks = in.array<int32_t>("logprobRanks", R * width);
  if (!in.error.empty()) return false;
  for (int64_t r = 0; r < R && in.error.empty(); r++) {
    if (b.numLogprobs[r] >= 0 && b.numLogprobs[r] + 1 > width) in.error = "logprobWidth is smaller than a row's numLogprobs + 1";
  }
  in.checkTokenIds("historyTokens", b.historyTokens, b.historyOffsets[R], b.vocabSize);
  in.checkTokenIds("biasTokenIds", b.biasTokenIds, b.biasOffsets[R], b.vocabSize);
  in.checkTokenIds("allowedTokenIds", b.allowedTokenIds, b.allowedOffsets[R], b.vocabSize);
  in.checkTokenIds("bannedTokenIds", b.bannedTokenIds, b.bannedOffsets[R], b.vocabSize);
  b.sampledTokenIds = sampled.data;
  b.logprobOut = LogprobTarget{lpIds.data, lpValues.data, lpRanks.data, width};
  return in.error.empty();
}

// samplerSample(batch): writes batch.sampledTokenIds and, for rows with numLogprobs >= 0, the
// log-prob slots. Rows run in parallel; each row's result depends only on that row.
Napi::Value samplerSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "samplerSample(batch) expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  BatchReader in(info[0].As<Napi::Object>());
  SampleBatch b;
  if (!readSampleBatch(in, b)) {
    Napi::TypeError::New(env, in.error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto sampleOne = [&](int64_t r) { b.sampledTokenIds[r] = sampleRow(b, r, threadScratch()); };
  tsv_parallel_for(b.numRows, true, sampleOne);
  return env.Undefined();
}

// samplerLogprobs(batch): log-probs of given target tokens under raw logits rows (prompt
// log-probs): for row r, logits row rowIndices[r], target targetTokenIds[r], top numLogprobs.
Napi::Value samplerLogprobs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "samplerLogprobs(batch) expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  BatchReader in(info[0].As<Napi::Object>());
  const int64_t R = in.integer("numRows");
  const int64_t V = in.integer("vocabSize");
  const int64_t topN = in.integer("numLogprobs");
  const int64_t width = topN + 1;
  Span<float> logits = in.input<float>("logits", 0);
  Span<int32_t> rowIndices = in.input<int32_t>("rowIndices", R);
  Span<int32_t> targets = in.input<int32_t>("targetTokenIds", R);
  MutSpan<int32_t> ids = in.array<int32_t>("logprobTokenIds", R * width);
  MutSpan<float> values = in.array<float>("logprobValues", R * width);
  MutSpan<int32_t> ranks = in.array<int32_t>("logprobRanks", R * width);
  if (in.error.empty() && (R < 0 || V <= 0 || topN < 0)) in.error = "numRows >= 0, vocabSize > 0 and numLogprobs >= 0 expected";
  for (int64_t r = 0; r < R && in.error.empty(); r++) {
    if (rowIndices[r] < 0 || (static_cast<int64_t>(rowIndices[r]) + 1) * V > logits.size) in.error = "rowIndices points past the logits";
  }
  in.checkTokenIds("targetTokenIds", targets, R, V);
  if (!in.error.empty()) {
    Napi::TypeError::New(env, in.error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const LogprobTarget out{ids.data, values.data, ranks.data, width};
  auto logprobsOne = [&](int64_t r) {
    writeLogprobs(logits.data + static_cast<int64_t>(rowIndices[r]) * V, V, targets[r], static_cast<int32_t>(topN), out, r, threadScratch());
  };
  tsv_parallel_for(R, true, logprobsOne);
  return env.Undefined();
}

}  // namespace

void tsvRegisterSampler(Napi::Env env, Napi::Object exports) {
  exports.Set("samplerSample", Napi::Function::New(env, samplerSample, "samplerSample"));
  exports.Set("samplerLogprobs", Napi::Function::New(env, samplerLogprobs, "samplerLogprobs"));
}
