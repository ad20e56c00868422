#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vqdb {

// Lloyd's k-means with 256 centroids over n contiguous rows of width w (<= 16), seeded and
// deterministic for a given ISA. Returns the centroids transposed: out[j * 256 + c].
std::vector<float> kmeans256(const float* x, size_t n, size_t w, size_t iterations, uint64_t seed);

// splitmix64: a tiny, portable generator (std distributions differ between standard libraries).
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace vqdb
