// The contract between a generated forward pass (generated/<model>/src/forward.cc) and the native
// model object (model.cc): one call runs every layer of one engine step.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tsv {

struct ForwardArgs {
  void* const* weights;   // in tsv_model_weight_names order
  void* const* kCache;    // one per layer: [numBlocks, blockSize, kvHeads, headDim]
  void* const* vCache;
  void* const* buffers;   // activation buffers, sized by tsv_model_buffers
  const int32_t* inputIds;
  const int32_t* positions;
  const int32_t* slotMapping;
  const int32_t* seqIdx;
  const int32_t* blockTables;  // [numSeqs, maxBlocksPerSeq]
  const int32_t* logitsIndices;
  float* logits;               // [numLogitRows, vocab]
  // [numTokens] the LoRA slot each token's adapter is in (-1: none), or null when no token of the
  // step has one; read only by forwards compiled with LoRA (dsl/kernels/lora.ts).
  const int32_t* loraSlots;
  // Sampling where the logits are (dsl/kernels/sampling.ts sampleRows), when numSampleRows > 0:
  // sample row r draws from logits row sampleRowIndices[r] under its temperature, top_k, top_p,
  // min_p and uniform draw, into sampledTokenIds[r]; each array holds numSampleRows entries.
  // First its logit processors edit that row in place (applyLogitEdits): the edits
  // sampleEditOffsets[r]..sampleEditOffsets[r + 1] (numSampleRows + 1 offsets) of the edit arrays,
  // which hold maxLogitEdits entries.
  int64_t numSampleRows;
  const int32_t* sampleEditOffsets;
  const int32_t* editTokenIds;
  const float* editBias;
  const float* editRepetition;
  const float* editSubtract;
  int64_t maxLogitEdits;
  const int32_t* sampleRowIndices;
  const float* sampleTemperature;
  const int32_t* sampleTopK;
  const float* sampleTopP;
  const float* sampleMinP;
  const float* sampleUniform;
  int32_t* sampledTokenIds;
  int64_t numTokens;
  int64_t numSeqs;
  int64_t maxBlocksPerSeq;
  int64_t numLogitRows;
  int64_t numBlocks;
  int64_t maxTokens;  // the rows a per-token buffer holds (tsv_model_buffers, rows 0)
  // Two per layer (k, v), host memory: what an fp8 cache's keys and values are divided by when
  // stored and multiplied by when read (a checkpoint's k_scale / v_scale; 1 where it has none).
  // Read where the launches' scalars are built, so one compiled forward serves every checkpoint.
  const double* kvCacheScales;
  void* stream;  // cudaStream_t in CUDA builds; unused on CPU
  // When set, called after each kernel launch with its index and what it computes (profiling:
  // the model object marks the device's queue there); null in normal steps.
  void (*afterLaunch)(void* context, int launch, const char* what);
  void* afterLaunchContext;
};

// rows: 0 = one row per token (sized by maxNumBatchedTokens), 1 = one per logits row, 2 = one row
// (the GPU plan's quantized linears' weights, written out for the tensor-core matmul).
struct BufferSpec {
  int rows;
  int64_t bytesPerRow;
};

}  // namespace tsv

extern "C" void tsv_model_forward(const tsv::ForwardArgs& args);
extern "C" const tsv::BufferSpec tsv_model_buffers[];
extern "C" const size_t tsv_model_buffer_count;
extern "C" const char* const tsv_model_weight_names[];
extern "C" const size_t tsv_model_weight_count;
extern "C" const int64_t tsv_model_kv_block_bytes;
extern "C" const int64_t tsv_model_num_layers;
extern "C" const int64_t tsv_model_vocab_size;
