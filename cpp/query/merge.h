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

// A point of the collection as one int64: its segment's position << 40 | its offset (the
// key that fusion sums scores by and a page splits back).
constexpr int kOffsetBits = 40;

// Each query's points by score (ascending for distances), then position, then offset; NaN
// scores last; those past `threshold` dropped; `wanted` at most. The lists are laid end to end
// in scores / keys; ends[q] is where query q's stops.
struct Merged {
  std::vector<float> scores;
  std::vector<int64_t> keys, ends;
};

Merged merge(const std::vector<SegmentAnswer>& answers, size_t queries, bool ascending,
             std::optional<float> threshold, size_t wanted);

}  // namespace vqdb
