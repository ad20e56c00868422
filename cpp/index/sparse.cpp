#include "index/sparse.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "parallel.h"

namespace vqdb {

namespace {

// Per-thread accumulators, reused across calls: a score per row and a tag saying whether the
// score belongs to the current query, so nothing of size `rows` is cleared per query.
struct Scratch {
  std::vector<float> score;
  std::vector<uint32_t> tag;
  std::vector<uint32_t> touched;
  uint32_t current = 0;

  void begin(size_t rows) {
    if (score.size() < rows) {
      score.resize(rows);
      tag.resize(rows, 0);
    }
    if (++current == 0) {  // the tags wrapped around: start over
      std::fill(tag.begin(), tag.end(), 0);
      current = 1;
    }
    touched.clear();
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

void SparseIndex::add(const int64_t* indptr, const uint32_t* indices, const float* values,
                      size_t n) {
  const size_t first = size();
  const int64_t base = indptr[0], offset = indptr_.back();
  const size_t count = size_t(indptr[n] - base);
  indices_.insert(indices_.end(), indices, indices + count);
  values_.insert(values_.end(), values, values + count);
  for (size_t i = 1; i <= n; ++i) indptr_.push_back(indptr[i] - base + offset);
  index_rows(first);
}

void SparseIndex::load(const int64_t* indptr, const uint32_t* indices, const float* values,
                       size_t n) {
  indptr_.assign(1, 0);
  indices_.clear();
  values_.clear();
  postings_.clear();
  add(indptr, indices, values, n);
}

void SparseIndex::index_rows(size_t first) {
  for (size_t row = first; row < size(); ++row)
    for (int64_t j = indptr_[row]; j < indptr_[row + 1]; ++j) {
      Postings& p = postings_[indices_[size_t(j)]];
      p.rows.push_back(uint32_t(row));
      p.weights.push_back(values_[size_t(j)]);
    }
}

size_t SparseIndex::memory_bytes() const {
  size_t bytes = indptr_.capacity() * sizeof(int64_t) + indices_.capacity() * sizeof(uint32_t) +
                 values_.capacity() * sizeof(float);
  // a hash node: key, two vectors, the next pointer and the bucket slot
  bytes += postings_.size() * (sizeof(uint32_t) + sizeof(Postings) + 2 * sizeof(void*));
  for (const auto& [term, p] : postings_)
    bytes += p.rows.capacity() * sizeof(uint32_t) + p.weights.capacity() * sizeof(float);
  return bytes;
}

void SparseIndex::document_frequency(const uint32_t* terms, size_t n, const uint64_t* alive,
                                     uint64_t* out) const {
  for (size_t i = 0; i < n; ++i) {
    auto it = postings_.find(terms[i]);
    if (it == postings_.end()) {
      out[i] = 0;
    } else if (alive == nullptr) {
      out[i] = it->second.rows.size();
    } else {
      uint64_t count = 0;
      for (uint32_t row : it->second.rows) count += allowed_id(alive, row) ? 1 : 0;
      out[i] = count;
    }
  }
}

std::vector<Neighbor> SparseIndex::search_one(const uint32_t* indices, const float* values,
                                              size_t n, size_t k,
                                              const uint64_t* allowed) const {
  Scratch& s = scratch();
  s.begin(size());
  // term at a time: each posting list is one sequential pass
  for (size_t i = 0; i < n; ++i) {
    auto it = postings_.find(indices[i]);
    if (it == postings_.end()) continue;
    const float w = values[i];
    const std::vector<uint32_t>& rows = it->second.rows;
    const std::vector<float>& weights = it->second.weights;
    for (size_t j = 0; j < rows.size(); ++j) {
      const uint32_t row = rows[j];
      if (!allowed_id(allowed, row)) continue;
      if (s.tag[row] != s.current) {
        s.tag[row] = s.current;
        s.score[row] = 0.0f;
        s.touched.push_back(row);
      }
      s.score[row] += w * weights[j];
    }
  }
  std::vector<Neighbor> hits;
  hits.reserve(s.touched.size());
  for (uint32_t row : s.touched) hits.push_back({s.score[row], row});
  if (hits.size() > k) {
    std::nth_element(hits.begin(), hits.begin() + std::ptrdiff_t(k), hits.end(), better);
    hits.resize(k);
  }
  std::sort(hits.begin(), hits.end(), better);
  return hits;
}

void SparseIndex::search(const int64_t* indptr, const uint32_t* indices, const float* values,
                         size_t nq, size_t k, const uint64_t* allowed, size_t threads,
                         int64_t* ids, float* scores) const {
  parallel_for(nq, threads, 1, [&](size_t begin, size_t end) {
    for (size_t q = begin; q < end; ++q) {
      const int64_t from = indptr[q] - indptr[0], to = indptr[q + 1] - indptr[0];
      std::vector<Neighbor> hits =
          search_one(indices + from, values + from, size_t(to - from), k, allowed);
      for (size_t i = 0; i < k; ++i) {
        const bool found = i < hits.size();
        ids[q * k + i] = found ? int64_t(hits[i].id) : -1;
        scores[q * k + i] = found ? hits[i].score : std::numeric_limits<float>::quiet_NaN();
      }
    }
  });
}

}  // namespace vqdb
