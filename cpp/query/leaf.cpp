#include "query/leaf.h"

#include <cmath>
#include <limits>

namespace vqdb {

namespace {

float shown_score(float engine, Shown shown) {
  switch (shown) {
    case Shown::euclid: {
      const float d = -engine;  // the negated squared distance; NaN stays NaN
      return std::sqrt(d < 0.0f ? 0.0f : d);
    }
    case Shown::manhattan:
      return -engine;
    default:
      return engine;
  }
}

// One segment's answer, in the layout merge() reads: k offsets (-1 pads) and shown scores.
struct Answer {
  int64_t position;
  std::vector<int64_t> offsets;
  std::vector<float> scores;
};

void to_offsets(Answer& answer, const int64_t* ids) {
  if (!ids) return;
  for (int64_t& o : answer.offsets)
    if (o >= 0) o = ids[o];
}

}  // namespace

Merged search(const Leaf& leaf) {
  std::vector<Answer> answers;
  answers.reserve(leaf.dense.size() + leaf.sparse.size());
  const int64_t groups[2] = {0, int64_t(leaf.row_count)};
  for (const DensePart& part : leaf.dense) {
    Answer a{part.position, std::vector<int64_t>(part.plan.limit),
             std::vector<float>(part.plan.limit)};
    search_batch(part.graph, *part.walk, part.rescore, leaf.rows, 1, part.plan, a.offsets.data(),
                 a.scores.data(), leaf.multivector ? groups : nullptr);
    for (float& s : a.scores) s = shown_score(s, leaf.shown);
    to_offsets(a, part.ids);
    answers.push_back(std::move(a));
  }
  for (const SparsePart& part : leaf.sparse) {
    Answer a{part.position, std::vector<int64_t>(part.k, -1),
             std::vector<float>(part.k, std::numeric_limits<float>::quiet_NaN())};
    const std::vector<Neighbor> hits =
        part.index->search_one(leaf.terms, leaf.weights, leaf.term_count, part.k, part.allowed);
    for (size_t i = 0; i < hits.size() && i < part.k; ++i) {
      a.offsets[i] = int64_t(hits[i].id);
      a.scores[i] = shown_score(hits[i].score, leaf.shown);
    }
    to_offsets(a, part.ids);
    answers.push_back(std::move(a));
  }
  std::vector<SegmentAnswer> views;
  views.reserve(answers.size());
  for (const Answer& a : answers)
    views.push_back({a.position, a.offsets.data(), a.scores.data(), a.offsets.size()});
  return merge(views, 1, leaf.ascending, leaf.threshold, leaf.wanted);
}

}  // namespace vqdb
