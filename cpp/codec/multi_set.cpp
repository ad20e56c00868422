// Multivectors: groups of rows in an inner set of any codec, scored by MaxSim (ColBERT's late
// interaction): score(Q, D) = sum over rows q of Q of max over rows d of D of score(q, d).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "codec/vector_set.h"

namespace vqdb {
namespace {

// One inner scorer per query row; a member's rows are contiguous in the inner set, so each is
// one score_range call (the float kernels, or the codec's own loop).
class MaxSimScorer final : public QueryScorer {
 public:
  MaxSimScorer(const MultiVectorSet& set, std::vector<std::unique_ptr<QueryScorer>> rows)
      : set_(set), rows_(std::move(rows)) {}

  void score(const uint32_t* ids, size_t n, float* out) const override {
    for (size_t i = 0; i < n; ++i) out[i] = score_one(ids[i]);
  }

  void score_range(uint32_t first, size_t n, float* out) const override {
    for (size_t i = 0; i < n; ++i) out[i] = score_one(uint32_t(first + i));
  }

 private:
  float score_one(uint32_t id) const {
    const uint64_t first = set_.first_row(id);
    const size_t count = size_t(set_.row_count(id));
    // A scorer serves one thread at a time (one query, one walk): its buffer is its own.
    if (buffer_.size() < count) buffer_.resize(count);
    float total = 0.f;
    for (const auto& row : rows_) {
      row->score_range(uint32_t(first), count, buffer_.data());
      total += *std::max_element(buffer_.data(), buffer_.data() + count);
    }
    return total;
  }

  const MultiVectorSet& set_;
  std::vector<std::unique_ptr<QueryScorer>> rows_;
  mutable std::vector<float> buffer_;
};

}  // namespace

MultiVectorSet::MultiVectorSet(std::shared_ptr<VectorSet> rows)
    : VectorSet(rows ? rows->dim() : 0, rows ? rows->metric() : Metric::dot), rows_(std::move(rows)) {
  if (!rows_) throw std::invalid_argument("a multivector set needs a set of rows");
  if (rows_->multi()) throw std::invalid_argument("the rows of a multivector set must be plain rows");
  if (rows_->size() != 0) throw std::invalid_argument("the rows' set must start empty");
}

size_t MultiVectorSet::memory_bytes() const {
  return rows_->memory_bytes() + offsets_.capacity() * sizeof(uint64_t);
}

uint32_t MultiVectorSet::add_groups(const float* x, const int64_t* offsets, size_t n) {
  if (read_only()) throw std::logic_error("this vector set is read-only (it views a file)");
  if (size_ + n > UINT32_MAX) throw std::length_error("a vector set holds at most 2^32 - 1 vectors");
  for (size_t i = 0; i < n; ++i)
    if (offsets[i + 1] <= offsets[i])
      throw std::invalid_argument("every multivector needs at least one row");
  const size_t total = size_t(offsets[n] - offsets[0]);
  if (rows_->size() + total > UINT32_MAX)
    throw std::length_error("a multivector set holds at most 2^32 - 1 rows");
  rows_->add(x, total);  // normalises cosine rows, encodes
  const uint32_t first = uint32_t(size_);
  const uint64_t base = offsets_.back();
  offsets_.reserve(offsets_.size() + n);
  for (size_t i = 1; i <= n; ++i) offsets_.push_back(base + uint64_t(offsets[i] - offsets[0]));
  size_ += n;
  return first;
}

std::unique_ptr<QueryScorer> MultiVectorSet::scorer(const float* query) const {
  return multi_scorer(query, 1);
}

std::unique_ptr<QueryScorer> MultiVectorSet::multi_scorer(const float* query, size_t rows) const {
  if (rows == 0) throw std::invalid_argument("a multivector query needs at least one row");
  std::vector<std::unique_ptr<QueryScorer>> scorers;
  scorers.reserve(rows);
  for (size_t r = 0; r < rows; ++r) scorers.push_back(rows_->scorer(query + r * dim_));
  return std::make_unique<MaxSimScorer>(*this, std::move(scorers));
}

std::unique_ptr<QueryScorer> MultiVectorSet::member_scorer(uint32_t id) const {
  std::vector<std::unique_ptr<QueryScorer>> scorers;
  const uint64_t first = first_row(id), count = row_count(id);
  scorers.reserve(count);
  for (uint64_t r = 0; r < count; ++r) scorers.push_back(rows_->member_scorer(uint32_t(first + r)));
  return std::make_unique<MaxSimScorer>(*this, std::move(scorers));
}

float MultiVectorSet::score_pair(uint32_t a, uint32_t b) const {
  const uint64_t fa = first_row(a), na = row_count(a), fb = first_row(b), nb = row_count(b);
  float total = 0.f;
  for (uint64_t i = 0; i < na; ++i) {
    float best = -INFINITY;
    for (uint64_t j = 0; j < nb; ++j)
      best = std::max(best, rows_->score_pair(uint32_t(fa + i), uint32_t(fb + j)));
    total += best;
  }
  return total;
}

float MultiVectorSet::nearer_bar(float score, float) const { return score; }

void MultiVectorSet::encode(const float* x, size_t n, uint8_t* codes) const {
  rows_->encode(x, n, codes);
}

void MultiVectorSet::decode(const uint8_t* codes, size_t n, float* x) const {
  rows_->decode(codes, n, x);
}

State MultiVectorSet::params() const {
  State s = rows_->params();
  const auto* bytes = reinterpret_cast<const uint8_t*>(offsets_.data());
  s["offsets"] = Array{"uint64", {offsets_.size()}, {bytes, bytes + offsets_.size() * sizeof(uint64_t)}};
  return s;
}

State MultiVectorSet::state() const {
  State s = rows_->state();
  const State p = params();
  s["offsets"] = p.at("offsets");
  return s;
}

void MultiVectorSet::load_state(const State& state) {
  const auto it = state.find("offsets");
  if (it == state.end()) throw std::invalid_argument("a multivector set's state needs offsets");
  const Array& a = it->second;
  if (a.dtype != "uint64" || a.shape.size() != 1 || a.shape[0] < 1 ||
      a.size() != a.shape[0] * sizeof(uint64_t))
    throw std::invalid_argument("offsets must be a non-empty uint64 vector");
  const auto* offsets = reinterpret_cast<const uint64_t*>(a.data());
  if (offsets[0] != 0) throw std::invalid_argument("offsets must start at 0");
  for (size_t i = 1; i < a.shape[0]; ++i)
    if (offsets[i] <= offsets[i - 1]) throw std::invalid_argument("offsets must rise");
  State rest = state;
  rest.erase("offsets");
  rows_->load_state(rest);
  if (rest.count("codes") && rows_->size() != offsets[a.shape[0] - 1])
    throw std::invalid_argument("the offsets do not match the number of rows");
  offsets_.assign(offsets, offsets + a.shape[0]);
  size_ = a.shape[0] - 1;
}

void MultiVectorSet::view(const uint8_t* codes, size_t rows) {
  if (rows != offsets_.back())
    throw std::invalid_argument("the viewed rows do not match the offsets (load them first)");
  rows_->view(codes, rows);
  view_ = codes;  // read-only from now on
}

}  // namespace vqdb
