#include "query/merge.h"

#include <algorithm>
#include <cmath>

namespace vqdb {

namespace {

struct Entry {
  float key;  // the score, negated where higher is better: lower keys first
  int64_t position, offset;
  float score;
};

bool before(const Entry& a, const Entry& b) {
  const bool a_nan = std::isnan(a.key), b_nan = std::isnan(b.key);
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && a.key != b.key) return a.key < b.key;
  if (a.position != b.position) return a.position < b.position;
  return a.offset < b.offset;
}

}  // namespace

Merged merge(const std::vector<SegmentAnswer>& answers, size_t queries, bool ascending,
             std::optional<float> threshold, size_t wanted) {
  Merged out;
  std::vector<Entry> entries;
  for (size_t q = 0; q < queries; ++q) {
    entries.clear();
    for (const SegmentAnswer& a : answers)
      for (size_t j = 0; j < a.k; ++j) {
        const int64_t offset = a.offsets[q * a.k + j];
        const float score = a.scores[q * a.k + j];
        if (offset < 0) continue;
        if (threshold && !(ascending ? score <= *threshold : score >= *threshold)) continue;
        entries.push_back({ascending ? score : -score, a.position, offset, score});
      }
    const size_t kept = std::min(wanted, entries.size());
    std::partial_sort(entries.begin(), entries.begin() + kept, entries.end(), before);
    for (size_t i = 0; i < kept; ++i) {
      out.scores.push_back(entries[i].score);
      out.keys.push_back(entries[i].position << kOffsetBits | entries[i].offset);
    }
    out.ends.push_back(int64_t(out.scores.size()));
  }
  return out;
}

}  // namespace vqdb
