// An inverted index over sparse vectors, searched by an exact dot product.
//
// Rows are appended (offsets 0..size-1, never reused), so each term's postings stay sorted by
// row without any sorting. The index also keeps the rows themselves in CSR form (indptr,
// indices, values): Python persists those arrays and hands them back to `load`, which rebuilds
// the postings. Deletions are not the index's business: searches take an allowed bitset.
//
// An optimized segment's index is also saved with its postings laid out flat (`postings_state`)
// and can then be searched in place (`view`): the CSR rows and the postings are read from the
// caller's buffers (read-only maps of the segment's files, shared by every process that reads
// them), and the index takes no rows from then on.
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

  // The postings laid out flat, terms ascending: term terms[t]'s rows (ascending) and weights
  // are rows[starts[t] .. starts[t + 1]), its largest and smallest weight bounds[2t], [2t + 1].
  struct FlatPostings {
    std::vector<uint32_t> terms, rows;
    std::vector<int64_t> starts;
    std::vector<float> weights, bounds;
  };
  FlatPostings postings_state() const;

  // Searches `n` CSR rows and their flat postings (`postings_state`'s, of `n_terms` terms) in
  // place: the buffers must outlive the index, which takes no rows from then on.
  void view(const int64_t* indptr, const uint32_t* indices, const float* values, size_t n,
            const uint32_t* terms, const int64_t* starts, const uint32_t* rows,
            const float* weights, const float* bounds, size_t n_terms);
  bool viewed() const { return flat_.terms != nullptr; }

  size_t size() const { return rows_; }
  size_t nnz() const { return size_t(indptr_p_[rows_]); }
  size_t terms() const { return viewed() ? flat_.n : postings_.size(); }
  size_t memory_bytes() const;

  const int64_t* indptr() const { return indptr_p_; }
  const uint32_t* indices() const { return indices_p_; }
  const float* values() const { return values_p_; }

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
  template <class T>
  struct Span {
    const T* ptr = nullptr;
    size_t n = 0;
    const T* data() const { return ptr; }
    size_t size() const { return n; }
    const T* begin() const { return ptr; }
    const T* end() const { return ptr + n; }
  };
  // One term's postings as a search reads them, held here or viewed.
  struct Postings {
    Span<uint32_t> rows;
    Span<float> weights;
    float max_weight = -INFINITY, min_weight = INFINITY;  // +-inf once a weight is not finite
  };
  struct Held {
    std::vector<uint32_t> rows;
    std::vector<float> weights;
    float max_weight = -INFINITY, min_weight = INFINITY;
  };
  bool find(uint32_t term, Postings& out) const;  // false: no row holds it
  void index_rows(size_t first);  // postings of the CSR rows from `first` on
  void point_at_held();           // the CSR pointers at the vectors, after they grew
  bool search_pruned(const std::vector<Postings>& lists, const uint32_t* indices,
                     const float* values, size_t n, size_t k, const uint64_t* allowed,
                     TopK& top) const;

  std::vector<int64_t> indptr_{0};
  std::vector<uint32_t> indices_;
  std::vector<float> values_;
  std::unordered_map<uint32_t, Held> postings_;
  // what searches read: the vectors above, or the viewed buffers
  const int64_t* indptr_p_ = indptr_.data();
  const uint32_t* indices_p_ = nullptr;
  const float* values_p_ = nullptr;
  size_t rows_ = 0;
  struct {
    const uint32_t* terms = nullptr;
    const int64_t* starts = nullptr;
    const uint32_t* rows = nullptr;
    const float* weights = nullptr;
    const float* bounds = nullptr;
    size_t n = 0;
  } flat_;
};

// Qdrant's IDF modifier on a query: out[i] = values[i] * ln((N - n + 0.5) / (n + 0.5) + 1),
// n = counts[i] the term's document frequency among N = total rows, computed in double and
// rounded to float once.
void idf_weighted(const float* values, const uint64_t* counts, size_t n, uint64_t total,
                  float* out);

}  // namespace vqdb
