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
// `ids`: the segment offset of each row of the store that answered (nullptr: the row itself).
struct Answer {
  int64_t position;
  const int64_t* ids;
  std::vector<int64_t> offsets;
  std::vector<float> scores;
};

}  // namespace

Merged search(const Leaf& leaf, size_t threads) {
  const size_t nq = leaf.queries;
  std::vector<Answer> answers;
  answers.reserve(leaf.dense.size() + leaf.sparse.size() + leaf.scored.size());
  for (const DensePart& part : leaf.dense) {
    const size_t k = part.plan.limit;
    Answer a{part.position, part.ids, std::vector<int64_t>(nq * k), std::vector<float>(nq * k)};
    SearchPlan plan = part.plan;
    plan.threads = threads;
    search_batch(part.graph, *part.walk, part.rescore, leaf.rows, nq, plan, a.offsets.data(),
                 a.scores.data(), leaf.groups);
    answers.push_back(std::move(a));
  }
  for (const SparsePart& part : leaf.sparse) {
    Answer a{part.position, part.ids, std::vector<int64_t>(nq * part.k),
             std::vector<float>(nq * part.k)};
    part.index->search(leaf.indptr, leaf.terms, leaf.weights, nq, part.k, part.allowed, threads,
                       a.offsets.data(), a.scores.data());
    answers.push_back(std::move(a));
  }
  for (const RowsPart& part : leaf.scored) {
    TopK top(part.k);
    std::vector<float> scores(part.count);
    part.set->scorer(leaf.rows)->score(part.rows, part.count, scores.data());
    for (size_t i = 0; i < part.count; ++i) top.push({scores[i], part.rows[i]});
    const std::vector<Neighbor>& best = top.sorted();
    Answer a{part.position, part.ids, std::vector<int64_t>(part.k, -1),
             std::vector<float>(part.k, std::numeric_limits<float>::quiet_NaN())};
    for (size_t i = 0; i < best.size(); ++i) {
      a.offsets[i] = int64_t(best[i].id);
      a.scores[i] = best[i].score;
    }
    answers.push_back(std::move(a));
  }
  std::vector<SegmentAnswer> views;
  views.reserve(answers.size());
  for (Answer& a : answers) {
    for (float& s : a.scores) s = shown_score(s, leaf.shown);
    if (a.ids)
      for (int64_t& o : a.offsets)
        if (o >= 0) o = a.ids[o];
    views.push_back({a.position, a.offsets.data(), a.scores.data(), a.offsets.size() / nq});
  }
  return merge(views, nq, leaf.ascending, leaf.threshold, leaf.wanted);
}

}  // namespace vqdb
