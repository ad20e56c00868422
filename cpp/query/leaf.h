// A leaf of a query's stage tree: one query searched in every segment that holds its vector,
// the segments' answers merged into one ranked list of keys. Python plans each segment's search
// (which sets, how many candidates, the allowed rows) and hands the plans over; a tree of
// leaves and their fusion then runs in one call, without the GIL and without a numpy array
// per segment and per stage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "index/search.h"
#include "index/sparse.h"
#include "query/merge.h"

namespace vqdb {

// How an engine score (higher is better) is shown: Euclid as the distance, Manhattan negated.
enum class Shown { same = 0, euclid = 1, manhattan = 2 };

// A segment's search: its position in the collection, and where its store's rows are its
// offsets (`ids`: the offset of each row; nullptr: each row is its own offset).
struct DensePart {
  int64_t position;
  const Hnsw* graph;  // nullptr: a plain scan
  const VectorSet* walk;
  Rescore rescore;
  SearchPlan plan;
  const int64_t* ids;
};

struct SparsePart {
  int64_t position;
  const SparseIndex* index;
  size_t k;
  const uint64_t* allowed;  // nullptr: every row
  const int64_t* ids;
};

// A rescoring stage's share of a segment: the rows of its candidates, scored exactly by the one
// dense query against `set` (the originals, in RAM or mapped), the best `k` kept.
struct RowsPart {
  int64_t position;
  const VectorSet* set;
  const uint32_t* rows;
  size_t count;
  size_t k;
  const int64_t* ids;
};

struct Leaf {
  size_t queries = 1;
  // Dense queries: query q is row q of `rows`, or, for multivectors (`groups`: queries + 1
  // offsets from 0), rows [groups[q], groups[q + 1]).
  const float* rows = nullptr;
  const int64_t* groups = nullptr;
  // Sparse queries, in CSR form: query q is terms / weights [indptr[q] - indptr[0],
  // indptr[q + 1] - indptr[0]).
  const int64_t* indptr = nullptr;
  const uint32_t* terms = nullptr;
  const float* weights = nullptr;

  std::vector<DensePart> dense;
  std::vector<SparsePart> sparse;
  std::vector<RowsPart> scored;  // one dense query only

  Shown shown = Shown::same;
  bool ascending = false;  // distances: lower first
  std::optional<float> threshold;
  size_t wanted = 10;
};

// Each query's points over the leaf's segments, ranked as merge() ranks them (a segment
// searches all the queries at once, on `threads` threads; 0: every core).
Merged search(const Leaf& leaf, size_t threads);

}  // namespace vqdb
