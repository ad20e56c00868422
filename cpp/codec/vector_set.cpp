#include "codec/vector_set.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace vqdb {

Metric parse_metric(const std::string& name) {
  if (name == "dot") return Metric::dot;
  if (name == "cosine") return Metric::cosine;
  if (name == "l2") return Metric::l2;
  if (name == "l1") return Metric::l1;
  throw std::invalid_argument("unknown metric '" + name + "' (expected dot, cosine, l2 or l1)");
}

void QueryScorer::score_range(uint32_t first, size_t n, float* out) const {
  constexpr size_t kBlock = 256;
  uint32_t ids[kBlock];
  for (size_t done = 0; done < n; done += kBlock) {
    const size_t m = n - done < kBlock ? n - done : kBlock;
    for (size_t i = 0; i < m; ++i) ids[i] = first + uint32_t(done + i);
    score(ids, m, out + done);
  }
}

void QueryScorer::score_rows(const uint8_t* const*, size_t, float*) const {
  throw std::logic_error("this codec cannot score codes from outside the set");
}

std::unique_ptr<QueryScorer> VectorSet::multi_scorer(const float* query, size_t rows) const {
  if (rows != 1) throw std::invalid_argument("this vector set takes one query row, not a group");
  return scorer(query);
}

float VectorSet::nearer_bar(float score, float slack) const {
  switch (metric_) {
    case Metric::cosine: return 1.f - (1.f - score) / slack;  // squared chord: 2 - 2 * score
    case Metric::l2: return score / slack;                    // score: minus the squared distance
    case Metric::l1: return score / std::sqrt(slack);         // score: minus the distance
    default: return score;
  }
}

void VectorSet::prepare(float* x, size_t n) const {
  if (metric_ != Metric::cosine) return;
  for (size_t i = 0; i < n; ++i) {
    float* row = x + i * dim_;
    double norm = 0.0;
    for (size_t j = 0; j < dim_; ++j) norm += double(row[j]) * row[j];
    if (norm > 0.0) {
      const float inv = float(1.0 / std::sqrt(norm));
      for (size_t j = 0; j < dim_; ++j) row[j] *= inv;
    }
  }
}

uint32_t VectorSet::add(const float* x, size_t n) {
  if (read_only()) throw std::logic_error("this vector set is read-only (it views a file)");
  if (multi()) throw std::logic_error("a multivector set takes groups of rows (add_groups)");
  if (!trained()) throw std::logic_error("the quantizer must be trained before vectors are added");
  if (size_ + n > UINT32_MAX) throw std::length_error("a vector set holds at most 2^32 - 1 vectors");
  std::vector<float> rows(x, x + n * dim_);
  prepare(rows.data(), n);
  const uint32_t first = uint32_t(size_);
  codes_.resize((size_ + n) * code_bytes());
  encode(rows.data(), n, codes_.data() + size_ * code_bytes());
  size_ += n;
  on_encoded(first, n);
  return first;
}

void VectorSet::set(const uint32_t* ids, const float* x, size_t n) {
  if (read_only()) throw std::logic_error("this vector set is read-only (it views a file)");
  if (multi()) throw std::logic_error("a multivector set takes groups of rows (add_groups)");
  for (size_t i = 0; i < n; ++i)
    if (ids[i] >= size_) throw std::out_of_range("vector offset out of range");
  std::vector<float> rows(x, x + n * dim_);
  prepare(rows.data(), n);
  std::vector<uint8_t> encoded(n * code_bytes());
  encode(rows.data(), n, encoded.data());
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(codes_.data() + size_t(ids[i]) * code_bytes(), encoded.data() + i * code_bytes(),
                code_bytes());
    on_encoded(ids[i], 1);
  }
}

State VectorSet::state() const {
  State s = params();
  const uint8_t* codes = data();
  s["codes"] = Array{"uint8", {size_, code_bytes()}, {codes, codes + size_ * code_bytes()}};
  return s;
}

// Without "codes" only the codec parameters are loaded: view() supplies the codes.
void VectorSet::load_state(const State& state) {
  const auto it = state.find("codes");
  if (it == state.end()) return;
  const Array& codes = it->second;
  if (codes.shape.size() != 2 || codes.shape[1] != code_bytes())
    throw std::invalid_argument("codes do not match this vector set's code size");
  view_ = nullptr;
  if (codes.size() != codes.shape[0] * code_bytes())
    throw std::invalid_argument("codes do not match their shape");
  codes_.assign(codes.data(), codes.data() + codes.size());
  size_ = codes.shape[0];
  if (size_ > 0) on_encoded(0, size_);
}

void VectorSet::view(const uint8_t* codes, size_t rows) {
  if (!trained()) throw std::logic_error("load the codec parameters before viewing codes");
  codes_.release();  // frees a copy
  view_ = codes;
  size_ = rows;
  if (size_ > 0) on_encoded(0, size_);
}

}  // namespace vqdb
