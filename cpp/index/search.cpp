#include "index/search.h"

#include <algorithm>
#include <cmath>

#include "parallel.h"

namespace vqdb {

namespace {

// A sparse allowed set (a selective filter) is cheaper to score id by id than to scan past.
std::vector<Neighbor> sparse_search(const QueryScorer& query, size_t n, size_t k,
                                    const uint64_t* allowed) {
  constexpr size_t kBlock = 256;
  TopK top(k);
  uint32_t ids[kBlock];
  float scores[kBlock];
  size_t m = 0;
  auto flush = [&] {
    query.score(ids, m, scores);
    for (size_t i = 0; i < m; ++i) top.push({scores[i], ids[i]});
    m = 0;
  };
  for (size_t w = 0; w < (n + 63) / 64; ++w)
    for (uint64_t bits = allowed[w]; bits; bits &= bits - 1) {
      const size_t id = w * 64 + size_t(__builtin_ctzll(bits));
      if (id >= n) break;
      ids[m++] = uint32_t(id);
      if (m == kBlock) flush();
    }
  if (m) flush();
  return std::move(top.sorted());
}

size_t count_allowed(const uint64_t* allowed, size_t n) {
  size_t count = 0;
  for (size_t w = 0; w < (n + 63) / 64; ++w) count += size_t(__builtin_popcountll(allowed[w]));
  return count;
}

}  // namespace

std::vector<Neighbor> plain_search(const QueryScorer& query, size_t n, size_t k,
                                   const uint64_t* allowed) {
  if (allowed && count_allowed(allowed, n) < n / 8) return sparse_search(query, n, k, allowed);
  constexpr size_t kBlock = 1024;
  TopK top(k);
  float scores[kBlock];
  // Ids rise through the scan, so a later equal score never beats the current worst: once the
  // top k is full, a strict compare against a cached threshold decides, 16 scores at a time
  // (a loop the compiler vectorises), and almost every chunk is skipped whole.
  constexpr size_t kChunk = 16;
  float threshold = -INFINITY;
  auto offer = [&](size_t first, size_t i) {
    const uint32_t id = uint32_t(first + i);
    if (!allowed_id(allowed, id)) return;
    top.push({scores[i], id});
    if (top.full()) threshold = top.worst();
  };
  for (size_t first = 0; first < n; first += kBlock) {
    const size_t m = std::min(kBlock, n - first);
    query.score_range(uint32_t(first), m, scores);
    size_t i = 0;
    for (; i < m && !top.full(); ++i) offer(first, i);
    for (; i < m; i += kChunk) {
      const size_t end = std::min(m, i + kChunk);
      bool hit = false;
      for (size_t j = i; j < end; ++j) hit |= scores[j] > threshold;
      if (!hit) continue;
      for (size_t j = i; j < end; ++j)
        if (scores[j] > threshold) offer(first, j);
    }
  }
  return std::move(top.sorted());
}

static void search_one(const Hnsw* graph, const VectorSet& walk, const VectorSet* rescore,
                       const float* query, const SearchPlan& plan, int64_t* ids, float* scores) {
  const auto scorer = walk.scorer(query);
  const size_t want = std::max(plan.candidates, plan.limit);
  std::vector<Neighbor> found =
      graph ? graph->search(*scorer, want, std::max(plan.ef, want), plan.allowed)
            : plain_search(*scorer, walk.size(), want, plan.allowed);
  if (rescore && !found.empty()) {
    const auto exact = rescore->scorer(query);
    std::vector<uint32_t> offsets(found.size());
    std::vector<float> rescored(found.size());
    for (size_t i = 0; i < found.size(); ++i) offsets[i] = found[i].id;
    exact->score(offsets.data(), offsets.size(), rescored.data());
    for (size_t i = 0; i < found.size(); ++i) found[i].score = rescored[i];
    std::sort(found.begin(), found.end(), better);
  }
  for (size_t i = 0; i < plan.limit; ++i) {
    ids[i] = i < found.size() ? int64_t(found[i].id) : -1;
    scores[i] = i < found.size() ? found[i].score : NAN;
  }
}

void search_batch(const Hnsw* graph, const VectorSet& walk, const VectorSet* rescore,
                  const float* queries, size_t nq, const SearchPlan& plan, int64_t* ids,
                  float* scores) {
  parallel_for(nq, plan.threads, 1, [&](size_t begin, size_t end) {
    for (size_t q = begin; q < end; ++q)
      search_one(graph, walk, rescore, queries + q * walk.dim(), plan, ids + q * plan.limit,
                 scores + q * plan.limit);
  });
}

}  // namespace vqdb
