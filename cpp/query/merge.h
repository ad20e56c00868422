// One ranked list per query from the answers of several segments to a batch of queries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace vqdb {

// A segment's answer: (queries, k) offsets and scores, row-major; offset -1 pads a row.
struct SegmentAnswer {
  int64_t position;  // the segment's place in the collection
  const int64_t* offsets;
  const float* scores;
  size_t k;
};

// Each query's points by score (ascending for distances), then position, then offset; NaN
// scores last; those past `threshold` dropped; `wanted` at most. The lists are laid end to end
// in scores / where / offsets; ends[q] is where query q's stops.
struct Merged {
  std::vector<float> scores;
  std::vector<int64_t> where, offsets, ends;
};

Merged merge(const std::vector<SegmentAnswer>& answers, size_t queries, bool ascending,
             std::optional<float> threshold, size_t wanted);

}  // namespace vqdb
