// The search pipeline (Qdrant's semantics): walk the graph, or scan, with the walk set's scores,
// keep `candidates` of them, optionally rescore those with the original vectors, cut to `limit`.
#pragma once

#include <cstdint>
#include <vector>

#include "codec/vector_set.h"
#include "index/hnsw.h"

namespace vqdb {

// Best-first top k of a brute-force scan over every allowed member.
std::vector<Neighbor> plain_search(const QueryScorer& query, size_t n, size_t k,
                                   const uint64_t* allowed);

struct SearchPlan {
  size_t limit = 10;
  size_t candidates = 10;  // floor(oversampling * limit), at least limit
  size_t ef = 0;           // graph only; raised to at least `candidates`
  const uint64_t* allowed = nullptr;
  size_t threads = 1;
};

// graph == nullptr scans; rescore == nullptr keeps the walk set's ranking. Writes nq x limit
// offsets (-1 where fewer were found) and scores.
void search_batch(const Hnsw* graph, const VectorSet& walk, const VectorSet* rescore,
                  const float* queries, size_t nq, const SearchPlan& plan, int64_t* ids,
                  float* scores);

}  // namespace vqdb
