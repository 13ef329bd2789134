// The sampler's random draws: a uniform double in [0, 1) that is a pure function of (seed,
// sequence index, step), so a row's draw never depends on the rest of the batch or on where it is
// sampled (sampler.cc on the host, sampleRows in the forward pass).
#pragma once
#include <cstdint>

namespace tsv {

inline uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline double uniformFor(uint64_t seed, uint32_t sequenceIndex, uint32_t step) {
  const uint64_t h = splitmix64(splitmix64(splitmix64(seed) ^ sequenceIndex) ^ step);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

// The uniform of one row's key as the sampler batches carry it: seed low, seed high, sequence index, step.
inline double uniformForKey(const uint32_t* key) {
  return uniformFor((static_cast<uint64_t>(key[1]) << 32) | key[0], key[2], key[3]);
}

}  // namespace tsv
