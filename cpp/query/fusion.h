// Fusing ranked lists of point keys: what RRF and DBSF share once each list's points carry a
// score of that list (fusion.py computes those).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vqdb {

struct RankedList {
  const int64_t* keys;  // each key at most once in a list (any int64 but INT64_MIN)
  const float* scores;
  size_t size;
};

// Each point's scores added in list order, in float32; best first, ties (and NaN totals, last)
// in the order the points were first seen, list by list.
void fuse(const std::vector<RankedList>& lists, std::vector<int64_t>& keys,
          std::vector<float>& totals);

// Reciprocal rank fusion's scores of ranks 1..n in a list of weight w: 1 / (rank / w + k - 1)
// in float32, as fusion.py computes them; all 0 where the weight is not positive.
std::vector<float> rrf_scores(size_t n, float k, float weight);

}  // namespace vqdb
