// The search pipeline (Qdrant's semantics): walk the graph, or scan, with the walk set's scores,
// keep `candidates` of them, optionally rescore those with the original vectors, cut to `limit`.
#pragma once

#include <cstdint>
#include <vector>

#include "codec/vector_set.h"
#include "index/hnsw.h"
#include "io/row_reader.h"

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

// Where rescoring finds the originals. Without a reader they are scored in place: from RAM, or
// from a memory map that faults their pages in one at a time. With one, the pipeline first
// walks every query of a batch, then reads the rows of all their candidates in one go, then
// scores them. `check_cache` first asks the page cache (mincore) about a few of each query's
// candidates: when it holds them all, that query is rescored in place and reads nothing.
struct Rescore {
  const VectorSet* set = nullptr;  // the originals; nullptr keeps the walk set's ranking
  const RowReader* reader = nullptr;
  bool check_cache = false;
  size_t sample = 4;  // candidates per query check_cache asks about
};

// graph == nullptr scans. Writes nq x limit offsets (-1 where fewer were found) and scores.
// `query_offsets` (nq + 1 of them) makes query q the rows [offsets[q], offsets[q + 1]) of
// `queries` (multivector sets); nullptr: query q is row q.
void search_batch(const Hnsw* graph, const VectorSet& walk, const Rescore& rescore,
                  const float* queries, size_t nq, const SearchPlan& plan, int64_t* ids,
                  float* scores, const int64_t* query_offsets = nullptr);

}  // namespace vqdb
