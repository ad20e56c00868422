#include "index/sparse.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

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

  // `touched` is a buffer of `rows` entries, filled from 0 by the caller.
  void begin(size_t rows) {
    if (score.size() < rows) {
      score.resize(rows);
      tag.resize(rows, 0);
      touched.resize(rows);
    }
    if (++current == 0) {  // the tags wrapped around: start over
      std::fill(tag.begin(), tag.end(), 0);
      current = 1;
    }
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

namespace {

// One posting list into the accumulators: plain pointers, so the compiler keeps them in
// registers (through the thread_local Scratch it reloaded them, and the TLS address, per
// posting), and the allowed test compiled out when there is no bitset.
template <bool kFiltered>
size_t accumulate(const uint32_t* rows, const float* weights, size_t n, float w,
                  const uint64_t* allowed, uint32_t current, float* score, uint32_t* tag,
                  uint32_t* touched, size_t count) {
  for (size_t j = 0; j < n; ++j) {
    const uint32_t row = rows[j];
    if (kFiltered && !allowed_id(allowed, row)) continue;
    if (tag[row] != current) {
      tag[row] = current;
      score[row] = 0.0f;
      touched[count++] = row;
    }
    score[row] += w * weights[j];
  }
  return count;
}

// The dense pass: every row's score was zeroed, so no branch per posting (the tag store is
// unconditional); a scan over all rows then finds the touched ones.
template <bool kFiltered>
void accumulate_dense(const uint32_t* rows, const float* weights, size_t n, float w,
                      const uint64_t* allowed, uint32_t current, float* score, uint32_t* tag) {
  for (size_t j = 0; j < n; ++j) {
    const uint32_t row = rows[j];
    if (kFiltered && !allowed_id(allowed, row)) continue;
    tag[row] = current;
    score[row] += w * weights[j];
  }
}

}  // namespace

std::vector<Neighbor> SparseIndex::search_one(const uint32_t* indices, const float* values,
                                              size_t n, size_t k,
                                              const uint64_t* allowed) const {
  Scratch& s = scratch();
  const size_t rows = size();
  s.begin(rows);
  float* score = s.score.data();
  uint32_t* tag = s.tag.data();
  const uint32_t current = s.current;
  std::vector<const Postings*> lists;
  lists.reserve(n);
  size_t postings = 0;
  for (size_t i = 0; i < n; ++i) {
    auto it = postings_.find(indices[i]);
    lists.push_back(it == postings_.end() ? nullptr : &it->second);
    if (lists.back() != nullptr) postings += lists.back()->rows.size();
  }
  TopK top(k);
  if (postings * 4 >= rows) {
    // Many postings per row: clearing every score and scanning every row costs less than a
    // mispredicted "first touch?" branch per posting.
    std::fill(score, score + rows, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      const Postings* p = lists[i];
      if (p == nullptr) continue;
      if (allowed == nullptr)
        accumulate_dense<false>(p->rows.data(), p->weights.data(), p->rows.size(), values[i],
                                allowed, current, score, tag);
      else
        accumulate_dense<true>(p->rows.data(), p->weights.data(), p->rows.size(), values[i],
                               allowed, current, score, tag);
    }
    for (size_t row = 0; row < rows; ++row)
      if ((!top.full() || score[row] >= top.worst()) && tag[row] == current)
        top.push({score[row], uint32_t(row)});
    return std::move(top.sorted());
  }
  uint32_t* touched = s.touched.data();
  size_t count = 0;  // rows touched (each at most once, so never past size())
  // term at a time: each posting list is one sequential pass
  for (size_t i = 0; i < n; ++i) {
    const Postings* p = lists[i];
    if (p == nullptr) continue;
    count = allowed == nullptr
                ? accumulate<false>(p->rows.data(), p->weights.data(), p->rows.size(), values[i],
                                    allowed, current, score, tag, touched, count)
                : accumulate<true>(p->rows.data(), p->weights.data(), p->rows.size(), values[i],
                                   allowed, current, score, tag, touched, count);
  }
  // a bounded heap: most rows lose to its worst at one comparison (no copy of every hit)
  for (size_t i = 0; i < count; ++i) top.push({score[touched[i]], touched[i]});
  return std::move(top.sorted());
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
