// The swap space (vLLM V0's CPU blocks): host memory that holds preempted sequences' KV, one
// allocation laid out [layer][k, v][block] with blocks as large as the cache's, page-locked in
// CUDA builds so the copies run at full speed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>
#include "memory.h"

namespace tsv {

class SwapSpace {
 public:
  /** Room for numBlocks blocks of every layer's keys and values; false (and none) when out of memory. */
  bool allocate(int64_t numLayers, int64_t numBlocks, int64_t blockBytes);
  int64_t numBlocks() const { return numBlocks_; }
  /** Copies each (cache block, swap block) pair of `out` here, then each (swap block, cache block)
   *  pair of `in` back, for every layer's keys (kCache) and values (vCache). Ids are trusted. */
  void swap(const std::vector<void*>& kCache, const std::vector<void*>& vCache, const int32_t* out, size_t outPairs, const int32_t* in, size_t inPairs) const;

 private:
  uint8_t* block(size_t layer, int value, int64_t id) const;
  PinnedHostMemory memory_;
  int64_t numBlocks_ = 0;
  int64_t blockBytes_ = 0;
};

}  // namespace tsv
