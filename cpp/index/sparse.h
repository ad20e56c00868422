// An inverted index over sparse vectors, searched by an exact dot product.
//
// Rows are appended (offsets 0..size-1, never reused), so each term's postings stay sorted by
// row without any sorting. The index also keeps the rows themselves in CSR form (indptr,
// indices, values): Python persists those arrays and hands them back to `load`, which rebuilds
// the postings. Deletions are not the index's business: searches take an allowed bitset.
//
// Each posting list keeps its largest and smallest weight, so a query term bounds what it can
// add to any row. A query with many postings is searched MaxScore-style (search_pruned): the
// lists are read in falling order of that bound until the rest can no longer lift a row into
// the top k, and the candidates left are scored exactly from the CSR rows, in query order, so
// ids and scores are bit for bit those of reading every list.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "index/neighbors.h"

namespace vqdb {

class SparseIndex {
 public:
  // Appends rows size()..size()+n-1: row i holds indices[indptr[i] - indptr[0] ..
  // indptr[i + 1] - indptr[0]) and their values. Each row's indices must be unique (the
  // caller sorts them; the index accepts any order).
  void add(const int64_t* indptr, const uint32_t* indices, const float* values, size_t n);

  // Replaces everything with the rows of a CSR state (indptr has n + 1 entries, from 0).
  void load(const int64_t* indptr, const uint32_t* indices, const float* values, size_t n);

  size_t size() const { return indptr_.size() - 1; }
  size_t nnz() const { return indices_.size(); }
  size_t terms() const { return postings_.size(); }
  size_t memory_bytes() const;

  const int64_t* indptr() const { return indptr_.data(); }
  const uint32_t* indices() const { return indices_.data(); }
  const float* values() const { return values_.data(); }

  // out[i]: how many rows set in `alive` (nullptr: every row) hold terms[i].
  void document_frequency(const uint32_t* terms, size_t n, const uint64_t* alive,
                          uint64_t* out) const;

  // The best `k` rows of each query by dot product, best first (ties: lower row first); a row
  // scores only when it shares a term with the query, and only rows set in `allowed` (nullptr:
  // all) are considered. Writes nq x k rows (-1 where fewer were found) and scores (NaN there).
  // Queries are CSR arrays like `add`'s.
  // `prune` false: every posting list is read in full (the tests' reference).
  void search(const int64_t* indptr, const uint32_t* indices, const float* values, size_t nq,
              size_t k, const uint64_t* allowed, size_t threads, int64_t* ids, float* scores,
              bool prune = true) const;

  // One query's hits, best first (the search of one row of a batch).
  std::vector<Neighbor> search_one(const uint32_t* indices, const float* values, size_t n,
                                   size_t k, const uint64_t* allowed, bool prune = true) const;

 private:
  struct Postings {
    std::vector<uint32_t> rows;
    std::vector<float> weights;
    float max_weight = -INFINITY, min_weight = INFINITY;  // +-inf once a weight is not finite
  };
  void index_rows(size_t first);  // postings of the CSR rows from `first` on
  bool search_pruned(const std::vector<const Postings*>& lists, const uint32_t* indices,
                     const float* values, size_t n, size_t k, const uint64_t* allowed,
                     TopK& top) const;

  std::vector<int64_t> indptr_{0};
  std::vector<uint32_t> indices_;
  std::vector<float> values_;
  std::unordered_map<uint32_t, Postings> postings_;
};

// Qdrant's IDF modifier on a query: out[i] = values[i] * ln((N - n + 0.5) / (n + 0.5) + 1),
// n = counts[i] the term's document frequency among N = total rows, computed in double and
// rounded to float once.
void idf_weighted(const float* values, const uint64_t* counts, size_t n, uint64_t total,
                  float* out);

}  // namespace vqdb
