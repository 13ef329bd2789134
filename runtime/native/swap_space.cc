// The swap space's memory and its block copies (swap_space.h).
#include "swap_space.h"

namespace tsv {

bool SwapSpace::allocate(int64_t numLayers, int64_t numBlocks, int64_t blockBytes) {
  memory_.reset(pinnedHostAlloc((size_t)(2 * numLayers * numBlocks * blockBytes)));
  numBlocks_ = memory_ ? numBlocks : 0;
  blockBytes_ = blockBytes;
  return memory_ != nullptr;
}

uint8_t* SwapSpace::block(size_t layer, int value, int64_t id) const {
  return static_cast<uint8_t*>(memory_.get()) + ((layer * 2 + value) * numBlocks_ + id) * blockBytes_;
}

void SwapSpace::swap(const std::vector<void*>& kCache, const std::vector<void*>& vCache, const int32_t* out, size_t outPairs, const int32_t* in, size_t inPairs) const {
  const size_t bytes = (size_t)blockBytes_;
  // Out first: a block swapped out may be handed to another sequence in the same step.
  for (size_t l = 0; l < kCache.size(); l++)
    for (int value = 0; value < 2; value++) {
      auto* cache = static_cast<uint8_t*>(value == 0 ? kCache[l] : vCache[l]);
      for (size_t i = 0; i < outPairs; i++) copyToHost(block(l, value, out[2 * i + 1]), cache + out[2 * i] * bytes, bytes);
    }
  for (size_t l = 0; l < kCache.size(); l++)
    for (int value = 0; value < 2; value++) {
      auto* cache = static_cast<uint8_t*>(value == 0 ? kCache[l] : vCache[l]);
      for (size_t i = 0; i < inPairs; i++) copyToDevice(cache + in[2 * i + 1] * bytes, block(l, value, in[2 * i]), bytes);
    }
}

}  // namespace tsv
