#include "index/sparse.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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
  if (viewed()) throw std::logic_error("a viewed sparse index takes no rows");
  const size_t first = size();
  const int64_t base = indptr[0], offset = indptr_.back();
  const size_t count = size_t(indptr[n] - base);
  indices_.insert(indices_.end(), indices, indices + count);
  values_.insert(values_.end(), values, values + count);
  for (size_t i = 1; i <= n; ++i) indptr_.push_back(indptr[i] - base + offset);
  point_at_held();
  index_rows(first);
}

void SparseIndex::point_at_held() {
  indptr_p_ = indptr_.data();
  indices_p_ = indices_.data();
  values_p_ = values_.data();
  rows_ = indptr_.size() - 1;
}

void SparseIndex::load(const int64_t* indptr, const uint32_t* indices, const float* values,
                       size_t n) {
  indptr_.assign(1, 0);
  indices_.clear();
  values_.clear();
  postings_.clear();
  flat_ = {};
  point_at_held();
  add(indptr, indices, values, n);
}

void SparseIndex::view(const int64_t* indptr, const uint32_t* indices, const float* values,
                       size_t n, const uint32_t* terms, const int64_t* starts,
                       const uint32_t* rows, const float* weights, const float* bounds,
                       size_t n_terms) {
  // what a load held is let go (assigning {} would keep the capacity)
  std::vector<int64_t>{0}.swap(indptr_);
  std::vector<uint32_t>().swap(indices_);
  std::vector<float>().swap(values_);
  std::unordered_map<uint32_t, Held>().swap(postings_);
  indptr_p_ = indptr;
  indices_p_ = indices;
  values_p_ = values;
  rows_ = n;
  flat_ = {terms, starts, rows, weights, bounds, n_terms};
}

SparseIndex::FlatPostings SparseIndex::postings_state() const {
  FlatPostings out;
  out.starts.push_back(0);
  if (viewed()) {
    const size_t total = size_t(flat_.starts[flat_.n]);
    out.terms.assign(flat_.terms, flat_.terms + flat_.n);
    out.starts.assign(flat_.starts, flat_.starts + flat_.n + 1);
    out.rows.assign(flat_.rows, flat_.rows + total);
    out.weights.assign(flat_.weights, flat_.weights + total);
    out.bounds.assign(flat_.bounds, flat_.bounds + 2 * flat_.n);
    return out;
  }
  out.terms.reserve(postings_.size());
  for (const auto& entry : postings_) out.terms.push_back(entry.first);
  std::sort(out.terms.begin(), out.terms.end());
  for (uint32_t term : out.terms) {
    const Held& p = postings_.at(term);
    out.rows.insert(out.rows.end(), p.rows.begin(), p.rows.end());
    out.weights.insert(out.weights.end(), p.weights.begin(), p.weights.end());
    out.starts.push_back(int64_t(out.rows.size()));
    out.bounds.push_back(p.max_weight);
    out.bounds.push_back(p.min_weight);
  }
  return out;
}

bool SparseIndex::find(uint32_t term, Postings& out) const {
  if (viewed()) {
    const uint32_t* end = flat_.terms + flat_.n;
    const uint32_t* at = std::lower_bound(flat_.terms, end, term);
    if (at == end || *at != term) return false;
    const size_t t = size_t(at - flat_.terms);
    const size_t from = size_t(flat_.starts[t]), count = size_t(flat_.starts[t + 1]) - from;
    out = {{flat_.rows + from, count}, {flat_.weights + from, count},
           flat_.bounds[2 * t], flat_.bounds[2 * t + 1]};
    return true;
  }
  auto it = postings_.find(term);
  if (it == postings_.end()) return false;
  const Held& p = it->second;
  out = {{p.rows.data(), p.rows.size()}, {p.weights.data(), p.weights.size()},
         p.max_weight, p.min_weight};
  return true;
}

void SparseIndex::index_rows(size_t first) {
  for (size_t row = first; row < size(); ++row)
    for (int64_t j = indptr_[row]; j < indptr_[row + 1]; ++j) {
      Held& p = postings_[indices_[size_t(j)]];
      const float w = values_[size_t(j)];
      p.rows.push_back(uint32_t(row));
      p.weights.push_back(w);
      const bool finite = std::isfinite(w);
      p.max_weight = finite ? std::max(p.max_weight, w) : INFINITY;
      p.min_weight = finite ? std::min(p.min_weight, w) : -INFINITY;
    }
}

size_t SparseIndex::memory_bytes() const {
  // viewed buffers are the caller's (mapped files): not counted
  size_t bytes = indptr_.capacity() * sizeof(int64_t) + indices_.capacity() * sizeof(uint32_t) +
                 values_.capacity() * sizeof(float);
  // a hash node: key, two vectors, the next pointer and the bucket slot
  bytes += postings_.size() * (sizeof(uint32_t) + sizeof(Held) + 2 * sizeof(void*));
  for (const auto& [term, p] : postings_)
    bytes += p.rows.capacity() * sizeof(uint32_t) + p.weights.capacity() * sizeof(float);
  return bytes;
}

void SparseIndex::document_frequency(const uint32_t* terms, size_t n, const uint64_t* alive,
                                     uint64_t* out) const {
  for (size_t i = 0; i < n; ++i) {
    Postings p;
    if (!find(terms[i], p)) {
      out[i] = 0;
    } else if (alive == nullptr) {
      out[i] = p.rows.size();
    } else {
      uint64_t count = 0;
      for (uint32_t row : p.rows) count += allowed_id(alive, row) ? 1 : 0;
      out[i] = count;
    }
  }
}

void idf_weighted(const float* values, const uint64_t* counts, size_t n, uint64_t total,
                  float* out) {
  for (size_t i = 0; i < n; ++i) {
    const double df = double(counts[i]);
    out[i] = float(double(values[i]) * std::log((double(total) - df + 0.5) / (df + 0.5) + 1.0));
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

// The pruned search's pass: no tags, since only rows scoring above a positive threshold are
// read back, and untouched (or filtered) rows keep their 0.
template <bool kFiltered>
void accumulate_scores(const uint32_t* rows, const float* weights, size_t n, float w,
                       const uint64_t* allowed, float* score) {
  for (size_t j = 0; j < n; ++j) {
    const uint32_t row = rows[j];
    if (kFiltered && !allowed_id(allowed, row)) continue;
    score[row] += w * weights[j];
  }
}

// Scoring a candidate row exactly costs about as much as reading this many postings (measured
// on BM25 rows of ~30 terms: the row's cache misses and the heap, more than the arithmetic).
constexpr size_t kRescoreCost = 32;

// The largest float at most x (a threshold that keeps every row a double comparison would).
float below(double x) {
  const float f = float(x);
  return double(f) <= x ? f : std::nextafter(f, -INFINITY);
}

// Writes the rows with score >= floor to `out`, returns how many: blocks with none cost a
// few vector compares (most rows are below).
size_t rows_at_least(const float* score, size_t rows, float floor, uint32_t* out) {
  using Floats = float __attribute__((vector_size(16)));
  using Masks = int32_t __attribute__((vector_size(16)));
  size_t count = 0, row = 0;
  for (; row + 16 <= rows; row += 16) {
    Floats v[4];
    std::memcpy(v, score + row, sizeof(v));
    const Masks any = (v[0] >= floor) | (v[1] >= floor) | (v[2] >= floor) | (v[3] >= floor);
    if ((any[0] | any[1] | any[2] | any[3]) == 0) continue;
    for (size_t r = row; r < row + 16; ++r)
      if (score[r] >= floor) out[count++] = uint32_t(r);
  }
  for (; row < rows; ++row)
    if (score[row] >= floor) out[count++] = uint32_t(row);
  return count;
}

// Query term -> its position in the query (n: none), by a table without collisions, so a
// lookup is two loads and no branch: a row's terms match the query's at random, and a
// mispredicted branch per term cost more than all the rest of scoring a row.
class TermPositions {
 public:
  // False when a term repeats (its postings would count twice) or no table was found.
  bool build(const uint32_t* terms, size_t n) {
    n_ = uint32_t(n);
    int bits = 6;  // 2 n^2 slots: collision-free for most multipliers
    while (bits < 14 && (size_t(1) << bits) < 2 * n * n) ++bits;
    shift_ = 32 - bits;
    keys_.assign(size_t(1) << bits, 0);
    positions_.assign(size_t(1) << bits, n_);
    for (uint32_t attempt = 0; attempt < 8; ++attempt) {
      multiplier_ = 2654435769u * (2 * attempt + 1);
      size_t i = 0;
      for (; i < n; ++i) {
        const uint32_t slot = hash(terms[i]);
        if (positions_[slot] != n_) break;
        keys_[slot] = terms[i];
        positions_[slot] = uint32_t(i);
      }
      if (i == n) return true;
      if (keys_[hash(terms[i])] == terms[i]) return false;  // a repeated term
      for (size_t j = 0; j < i; ++j) positions_[hash(terms[j])] = n_;
    }
    return false;
  }
  // A row's dot product as the unpruned search sums it: the shared terms in query order.
  // Terms the row lacks are skipped, as adding their 0 would change nothing (the sums are
  // never -0). `query` has n + 1 values (the last 0), `terms` room for n + 1.
  float score(const uint32_t* indices, const float* values, size_t len, const float* query,
              float* terms) const {
    const uint32_t* keys = keys_.data();
    const uint32_t* positions = positions_.data();
    const uint32_t n = n_, multiplier = multiplier_;
    const int shift = shift_;
    const bool wide = n > 64;  // past a mask's positions: add every term, 0 or not
    if (wide) std::fill(terms, terms + n, 0.0f);
    uint64_t found = 0;
    for (size_t j = 0; j < len; ++j) {
      const uint32_t slot = (indices[j] * multiplier) >> shift, at = positions[slot];
      const uint32_t miss = 0u - uint32_t(keys[slot] != indices[j]);  // all ones or 0
      const uint32_t i = at ^ ((at ^ n) & miss);  // no branch: rows match at random
      terms[i] = query[i] * values[j];
      found |= uint64_t(i < n) << (i & 63);
    }
    float sum = 0.0f;
    if (wide)
      for (size_t i = 0; i < n; ++i) sum += terms[i];
    else
      for (; found != 0; found &= found - 1) sum += terms[__builtin_ctzll(found)];
    return sum;
  }

 private:
  uint32_t hash(uint32_t term) const { return (term * multiplier_) >> shift_; }
  std::vector<uint32_t> keys_, positions_;
  uint32_t multiplier_ = 0, n_ = 0;
  int shift_ = 26;
};

}  // namespace

// MaxScore, term at a time. Each list bounds its term's contribution to a row by
// [lb, ub] = q * [min, max weight] (widened to include 0, as a row may lack the term). Lists
// are read in falling ub order into dense partial scores. Once k seed rows (those of the first
// lists) have partial + the remaining lists' lbs above the sum of their ubs, no row with a
// lower partial score can reach the top k: the best k seeds get their exact scores, whose
// worst bounds the k-th best answer from below, and after a few more lists (while reading
// them costs less than scoring the candidates) the rest are skipped; the candidates left get
// exact scores from the CSR rows, summed in query order as the unpruned search does. Partial
// sums run in another order and so differ from exact ones by a few ulps: `margin` covers
// that, so a row that could tie the k-th is kept.
bool SparseIndex::search_pruned(const std::vector<Postings>& lists,
                                const uint32_t* indices, const float* values, size_t n, size_t k,
                                const uint64_t* allowed, TopK& top) const {
  struct Bound {
    size_t i;
    double ub, lb;
  };
  std::vector<Bound> order;
  double sum_abs = 0;  // bounds every |partial score|, hence the rounding error
  for (size_t i = 0; i < n; ++i) {
    if (lists[i].rows.size() == 0) continue;  // no row holds the term
    const double hi = double(values[i]) * lists[i].max_weight;
    const double lo = double(values[i]) * lists[i].min_weight;
    order.push_back({i, std::max({hi, lo, 0.0}), std::min({hi, lo, 0.0})});
    sum_abs += std::max(order.back().ub, -order.back().lb);
  }
  TermPositions positions;
  // Float overflow (or weights that are not finite) would void the bounds.
  if (order.size() < 2 || !(sum_abs < 1e30) || !positions.build(indices, n)) return false;
  // Each sum is within n ulps of sum_abs (products rounded too) of the real one: 16x that.
  const double margin = sum_abs * double(n + 2) * 0x1p-20;
  std::stable_sort(order.begin(), order.end(),
                   [](const Bound& a, const Bound& b) { return a.ub > b.ub; });
  const size_t m = order.size();
  std::vector<double> ub_rest(m + 1, 0.0), lb_rest(m + 1, 0.0);  // of lists j.. on
  for (size_t j = m; j-- > 0;) {
    ub_rest[j] = ub_rest[j + 1] + order[j].ub;
    lb_rest[j] = lb_rest[j + 1] + order[j].lb;
  }
  size_t postings = 0;
  for (const Bound& b : order) postings += lists[b.i].rows.size();

  Scratch& s = scratch();
  const size_t rows = size();
  s.begin(rows);
  float* score = s.score.data();
  uint32_t* tag = s.tag.data();
  uint32_t current = s.current;
  std::fill(score, score + rows, 0.0f);
  // Seeds: distinct allowed rows of the first lists, those likeliest to score high.
  std::vector<uint32_t> seeds;
  const size_t want = std::max<size_t>(16 * k, 512);
  for (size_t j = 0; j < m && seeds.size() < want; ++j)
    for (uint32_t row : lists[order[j].i].rows) {
      if (seeds.size() == want) break;
      if (tag[row] == current || !allowed_id(allowed, row)) continue;
      tag[row] = current;
      seeds.push_back(row);
    }
  if (seeds.size() < k) return false;

  std::vector<float> query(values, values + n), terms(n + 1);
  query.push_back(0.0f);  // at the position of terms the query lacks
  auto exact = [&](size_t row) {
    const size_t from = size_t(indptr_p_[row]), to = size_t(indptr_p_[row + 1]);
    return positions.score(indices_p_ + from, values_p_ + from, to - from,
                           query.data(), terms.data());
  };

  double theta = -INFINITY;  // a lower bound on the k-th best final score
  size_t done = 0, j = 0;    // postings read; lists read
  s.begin(rows);             // tags now mark the rows scored exactly (no resize: same rows)
  current = s.current;
  while (j < m) {
    const Postings& p = lists[order[j].i];
    if (allowed == nullptr)
      accumulate_scores<false>(p.rows.data(), p.weights.data(), p.rows.size(), values[order[j].i],
                               allowed, score);
    else
      accumulate_scores<true>(p.rows.data(), p.weights.data(), p.rows.size(), values[order[j].i],
                              allowed, score);
    done += p.rows.size();
    ++j;
    if (theta == -INFINITY) {
      // No partial score exceeds the ubs read so far: skip the count until they could.
      const double need = ub_rest[j] + margin - lb_rest[j];
      size_t above = 0;  // a count is cheaper than the k-th largest
      if (ub_rest[0] - ub_rest[j] > need)
        for (uint32_t row : seeds) above += score[row] > need;
      if (above < k) {
        // Past half the postings a cut saves too little to pay for the work done so far.
        if (2 * done >= postings) return false;
        continue;
      }
      // The k best seeds, scored exactly: their worst is a far better theta than any
      // partial score (the remaining lists add to them too).
      std::nth_element(seeds.begin(), seeds.begin() + (k - 1), seeds.end(),
                       [&](uint32_t a, uint32_t b) { return score[a] > score[b]; });
      theta = score[seeds[k - 1]] + lb_rest[j];
      for (size_t i = 0; i < k; ++i) {
        tag[seeds[i]] = current;
        top.push({exact(seeds[i]), seeds[i]});
      }
    }
    theta = std::max(theta, double(top.worst()));
    if (j == m) break;
    // Whether to stop: the candidates, counted on every 64th row, each cost about as much
    // to score exactly as reading kRescoreCost postings.
    const float floor = below(theta - ub_rest[j] - margin);
    size_t sampled = 0;
    for (size_t row = 0; row < rows; row += 64) sampled += score[row] >= floor;
    if (sampled * 64 * kRescoreCost <= lists[order[j].i].rows.size()) break;
  }
  // The candidates: rows whose partial score plus the rest's bound can reach theta (> 0 by
  // the cut, so untouched rows are out), in row order, each scored while it still can.
  uint32_t* candidates = s.touched.data();
  const size_t count = rows_at_least(score, rows, below(theta - ub_rest[j] - margin), candidates);
  const double rest = ub_rest[j] + margin;
  size_t left = 0;
  for (size_t c = 0; c < count; ++c) {
    const uint32_t row = candidates[c];
    if (tag[row] != current && score[row] + rest >= top.worst()) candidates[left++] = row;
  }
  for (size_t c = 0; c < left; ++c) {
    if (c + 16 < left) __builtin_prefetch(indptr_p_ + candidates[c + 16]);
    if (c + 8 < left) {  // a row's terms are cache misses: fetch those of rows ahead
      const uint32_t ahead = candidates[c + 8];
      for (int64_t at = indptr_p_[ahead]; at < indptr_p_[ahead + 1]; at += 16) {
        __builtin_prefetch(indices_p_ + at);
        __builtin_prefetch(values_p_ + at);
      }
    }
    const uint32_t row = candidates[c];
    if (score[row] + rest >= top.worst()) top.push({exact(row), row});
  }
  return true;
}

std::vector<Neighbor> SparseIndex::search_one(const uint32_t* indices, const float* values,
                                              size_t n, size_t k, const uint64_t* allowed,
                                              bool prune) const {
  std::vector<Postings> lists(n);  // empty where no row holds the term
  size_t postings = 0;
  for (size_t i = 0; i < n; ++i)
    if (find(indices[i], lists[i])) postings += lists[i].rows.size();
  const size_t rows = size();
  TopK top(k);
  if (prune && postings * 4 >= rows && postings >= 64 * k &&
      search_pruned(lists, indices, values, n, k, allowed, top))
    return std::move(top.sorted());
  Scratch& s = scratch();
  s.begin(rows);
  float* score = s.score.data();
  uint32_t* tag = s.tag.data();
  const uint32_t current = s.current;
  if (postings * 4 >= rows) {
    // Many postings per row: clearing every score and scanning every row costs less than a
    // mispredicted "first touch?" branch per posting.
    std::fill(score, score + rows, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      const Postings& p = lists[i];
      if (allowed == nullptr)
        accumulate_dense<false>(p.rows.data(), p.weights.data(), p.rows.size(), values[i],
                                allowed, current, score, tag);
      else
        accumulate_dense<true>(p.rows.data(), p.weights.data(), p.rows.size(), values[i],
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
    const Postings& p = lists[i];
    count = allowed == nullptr
                ? accumulate<false>(p.rows.data(), p.weights.data(), p.rows.size(), values[i],
                                    allowed, current, score, tag, touched, count)
                : accumulate<true>(p.rows.data(), p.weights.data(), p.rows.size(), values[i],
                                   allowed, current, score, tag, touched, count);
  }
  // a bounded heap: most rows lose to its worst at one comparison (no copy of every hit)
  for (size_t i = 0; i < count; ++i) top.push({score[touched[i]], touched[i]});
  return std::move(top.sorted());
}

void SparseIndex::search(const int64_t* indptr, const uint32_t* indices, const float* values,
                         size_t nq, size_t k, const uint64_t* allowed, size_t threads,
                         int64_t* ids, float* scores, bool prune) const {
  parallel_for(nq, threads, 1, [&](size_t begin, size_t end) {
    for (size_t q = begin; q < end; ++q) {
      const int64_t from = indptr[q] - indptr[0], to = indptr[q + 1] - indptr[0];
      std::vector<Neighbor> hits =
          search_one(indices + from, values + from, size_t(to - from), k, allowed, prune);
      for (size_t i = 0; i < k; ++i) {
        const bool found = i < hits.size();
        ids[q * k + i] = found ? int64_t(hits[i].id) : -1;
        scores[q * k + i] = found ? hits[i].score : std::numeric_limits<float>::quiet_NaN();
      }
    }
  });
}

}  // namespace vqdb
