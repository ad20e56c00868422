// Binary quantization. Every encoding is "sign bits of a linear lift of the vector":
//   one_bit            lift(x) = x                                   (dim bits)
//   one_and_half_bits  lift(x) = [x, x_2k + x_2k+1]                  (dim + dim/2 bits)
//   two_bits           lift(x) = [x + t, x - t], t = 2/3 std per dim (2 dim bits, thermometer)
// Symmetric scoring is -hamming over the whole bit string. Asymmetric scoring quantizes the
// query's linear lift (no offsets) to 4 or 8 bits, u = (q - lo) / step, and estimates
// q.x^ = lo * popcount(B) + step * sum_p 2^p popcount(U_p & B), which ranks like the dot of the
// query with the decoded vector for every encoding above.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "codec/vector_set.h"
#include "simd/kernels.h"

namespace vqdb {
namespace {

constexpr size_t kTrainRows = 5000;
constexpr float kThermometer = 2.f / 3.f;

size_t lifted_dim(size_t dim, BinaryEncoding e) {
  switch (e) {
    case BinaryEncoding::one_and_half_bits: return dim + (dim + 1) / 2;
    case BinaryEncoding::two_bits: return 2 * dim;
    default: return dim;
  }
}

size_t query_bits(QueryEncoding q) {
  return q == QueryEncoding::scalar8bits ? 8 : q == QueryEncoding::scalar4bits ? 4 : 0;
}

// Graph neighbours are scattered rows: fetch every neighbour's whole code up front.
void prefetch_rows(const uint64_t* base, size_t words, const uint32_t* ids, size_t n) {
  for (size_t i = 0; i < n; ++i) prefetch_bytes(base + size_t(ids[i]) * words, words * 8);
}

class HammingScorer final : public QueryScorer {
 public:
  HammingScorer(const uint64_t* base, size_t words, const uint64_t* query)
      : base_(base), words_(words), query_(query, query + words),
        kernel_(simd::active().hamming_b1) {}

  void score(const uint32_t* ids, size_t n, float* out) const override {
    prefetch_rows(base_, words_, ids, n);
    for (size_t i = 0; i < n; ++i)
      out[i] = -float(kernel_(query_.data(), base_ + size_t(ids[i]) * words_, words_));
  }

  void score_range(uint32_t first, size_t n, float* out) const override {
    constexpr size_t kBlock = 256;
    uint32_t counts[kBlock];
    for (size_t done = 0; done < n; done += kBlock) {
      const size_t m = std::min(kBlock, n - done);
      rows_(query_.data(), base_ + (size_t(first) + done) * words_, m, words_, counts);
      // Counts are small: the signed conversion vectorises, the unsigned one does not.
      for (size_t i = 0; i < m; ++i) out[done + i] = -float(int32_t(counts[i]));
    }
  }

 private:
  const uint64_t* base_;
  size_t words_;
  std::vector<uint64_t> query_;
  uint32_t (*kernel_)(const uint64_t*, const uint64_t*, size_t);
  void (*rows_)(const uint64_t*, const uint64_t*, size_t, size_t, uint32_t*) =
      simd::active().hamming_b1_rows;
};

class PlaneScorer final : public QueryScorer {
 public:
  PlaneScorer(const uint64_t* base, const uint32_t* popcounts, size_t words,
              std::vector<uint64_t> planes, size_t n_planes, float lo, float step)
      : base_(base), popcounts_(popcounts), words_(words), planes_(std::move(planes)),
        n_planes_(n_planes), lo_(lo), step_(step), kernel_(simd::active().andpop_b1) {}

  void score(const uint32_t* ids, size_t n, float* out) const override {
    prefetch_rows(base_, words_, ids, n);
    for (size_t i = 0; i < n; ++i) out[i] = one(ids[i]);
  }

 private:
  float one(uint32_t id) const {
    const uint32_t weighted = kernel_(planes_.data(), n_planes_, base_ + size_t(id) * words_, words_);
    return lo_ * float(popcounts_[id]) + step_ * float(weighted);
  }

  const uint64_t* base_;
  const uint32_t* popcounts_;
  size_t words_;
  std::vector<uint64_t> planes_;
  size_t n_planes_;
  float lo_, step_;
  uint32_t (*kernel_)(const uint64_t*, size_t, const uint64_t*, size_t);
};

class BinarySet final : public VectorSet {
 public:
  BinarySet(size_t dim, Metric metric, BinaryEncoding encoding, QueryEncoding query_encoding,
            float center)
      : VectorSet(dim, metric), encoding_(encoding), query_encoding_(query_encoding), center_(center),
        lifted_(lifted_dim(dim, encoding)), words_((lifted_ + 63) / 64),
        threshold_(encoding == BinaryEncoding::two_bits ? dim : 0, 0.f),
        trained_(encoding != BinaryEncoding::two_bits) {}

  size_t code_bytes() const override { return words_ * sizeof(uint64_t); }
  bool trained() const override { return trained_; }
  size_t memory_bytes() const override {
    return VectorSet::memory_bytes() + popcounts_.capacity() * sizeof(uint32_t) +
           threshold_.size() * sizeof(float);
  }

  void train(const float* x, size_t n) override {
    if (encoding_ != BinaryEncoding::two_bits) return;
    if (n == 0) throw std::invalid_argument("cannot train a binary quantizer on zero vectors");
    const size_t rows = std::min(n, kTrainRows), step = n / rows;
    std::vector<double> sum(dim_, 0.0), sum2(dim_, 0.0);
    std::vector<float> row(dim_);
    for (size_t i = 0; i < rows; ++i) {
      std::memcpy(row.data(), x + i * step * dim_, dim_ * sizeof(float));
      prepare(row.data(), 1);
      for (size_t j = 0; j < dim_; ++j) {
        sum[j] += row[j];
        sum2[j] += double(row[j]) * row[j];
      }
    }
    for (size_t j = 0; j < dim_; ++j) {
      const double mean = sum[j] / double(rows);
      const double var = std::max(0.0, sum2[j] / double(rows) - mean * mean);
      threshold_[j] = float(kThermometer * std::sqrt(var));
    }
    trained_ = true;
  }

  std::unique_ptr<QueryScorer> scorer(const float* query) const override {
    std::vector<float> q(query, query + dim_);
    prepare(q.data(), 1);
    const size_t bits = query_bits(query_encoding_);
    if (bits == 0) {
      std::vector<uint64_t> code(words_);
      encode(q.data(), 1, reinterpret_cast<uint8_t*>(code.data()));
      return std::make_unique<HammingScorer>(base(), words_, code.data());
    }
    std::vector<float> lifted(lifted_);
    lift(q.data(), lifted.data(), false);
    const auto [lo_it, hi_it] = std::minmax_element(lifted.begin(), lifted.end());
    const float lo = *lo_it, levels = float((1u << bits) - 1);
    const float step = *hi_it > lo ? (*hi_it - lo) / levels : 1.f;
    std::vector<uint64_t> planes(bits * words_, 0);
    for (size_t e = 0; e < lifted_; ++e) {
      const uint32_t u = uint32_t(std::clamp(std::floor((lifted[e] - lo) / step + 0.5f), 0.f, levels));
      for (size_t p = 0; p < bits; ++p)
        if (u >> p & 1u) planes[p * words_ + e / 64] |= uint64_t(1) << (e % 64);
    }
    return std::make_unique<PlaneScorer>(base(), popcounts_.data(), words_, std::move(planes), bits,
                                         lo, step);
  }

  std::unique_ptr<QueryScorer> member_scorer(uint32_t id) const override {
    return std::make_unique<HammingScorer>(base(), words_, base() + size_t(id) * words_);
  }

  // Stored codes are compared by Hamming distance (score: minus it), whatever the metric; it
  // grows with the angle between the vectors, so its square stands for the squared chord.
  float nearer_bar(float score, float slack) const override { return score / std::sqrt(slack); }

  float score_pair(uint32_t a, uint32_t b) const override {
    return -float(simd::active().hamming_b1(base() + size_t(a) * words_,
                                            base() + size_t(b) * words_, words_));
  }

  void encode(const float* x, size_t n, uint8_t* codes) const override {
    std::vector<float> lifted(lifted_);
    for (size_t i = 0; i < n; ++i) {
      lift(x + i * dim_, lifted.data(), true);
      uint64_t* out = reinterpret_cast<uint64_t*>(codes + i * code_bytes());
      std::fill(out, out + words_, 0);
      for (size_t e = 0; e < lifted_; ++e)
        if (lifted[e] > 0.f) out[e / 64] |= uint64_t(1) << (e % 64);
    }
  }

  // A representative of each cell, chosen so that encode(decode(c)) == c: +-1 per sign bit (the
  // pair bit of 1.5 bits doubles the member that decides the pair's sign), and -2t, 0, +2t for
  // the thermometer.
  void decode(const uint8_t* codes, size_t n, float* x) const override {
    for (size_t i = 0; i < n; ++i) {
      const uint64_t* c = reinterpret_cast<const uint64_t*>(codes + i * code_bytes());
      auto bit = [c](size_t e) { return float((c[e / 64] >> (e % 64)) & 1u); };
      float* row = x + i * dim_;
      for (size_t j = 0; j < dim_; ++j) {
        if (encoding_ == BinaryEncoding::two_bits)
          row[j] = (bit(j) + bit(dim_ + j) - 1.f) * 2.f * std::max(threshold_[j], 1e-6f);
        else
          row[j] = 2.f * bit(j) - 1.f;
      }
      if (encoding_ != BinaryEncoding::one_and_half_bits) continue;
      for (size_t k = 0; 2 * k + 1 < dim_; ++k) {
        float& a = row[2 * k];
        float& b = row[2 * k + 1];
        if (a == b) continue;
        const float pair_sign = 2.f * bit(dim_ + k) - 1.f;
        (a == pair_sign ? a : b) *= 2.f;
      }
    }
  }

  State params() const override {
    State s;
    Array t{"float32", {threshold_.size()}, std::vector<uint8_t>(threshold_.size() * sizeof(float))};
    std::memcpy(t.bytes.data(), threshold_.data(), t.bytes.size());
    s["thresholds"] = t;
    return s;
  }

  void load_state(const State& state) override {
    const Array& t = state.at("thresholds");
    if (t.size() != threshold_.size() * sizeof(float))
      throw std::invalid_argument("binary thresholds do not match the encoding");
    std::memcpy(threshold_.data(), t.data(), t.size());
    trained_ = true;
    VectorSet::load_state(state);
  }

 protected:
  // Stored rows and queries alike. With a centre (uint8 originals: 127, as Qdrant does) every
  // value is moved by it instead of normalised: all-positive bytes would give all-one bits.
  void prepare(float* x, size_t n) const override {
    if (center_ == 0.f) return VectorSet::prepare(x, n);
    for (size_t i = 0; i < n * dim_; ++i) x[i] -= center_;
  }

  // Only the asymmetric scorers need the stored popcounts.
  void on_encoded(uint32_t first, size_t n) override {
    if (query_bits(query_encoding_) == 0) return;
    popcounts_.resize(size_);
    for (size_t i = first; i < first + n; ++i) {
      const uint64_t* c = base() + i * words_;
      uint32_t s = 0;
      for (size_t w = 0; w < words_; ++w) s += uint32_t(__builtin_popcountll(c[w]));
      popcounts_[i] = s;
    }
  }

 private:
  const uint64_t* base() const { return reinterpret_cast<const uint64_t*>(data()); }

  void lift(const float* x, float* out, bool with_offsets) const {
    std::memcpy(out, x, dim_ * sizeof(float));
    if (encoding_ == BinaryEncoding::one_and_half_bits) {
      for (size_t k = 0; 2 * k < dim_; ++k)
        out[dim_ + k] = x[2 * k] + (2 * k + 1 < dim_ ? x[2 * k + 1] : 0.f);
    } else if (encoding_ == BinaryEncoding::two_bits) {
      std::memcpy(out + dim_, x, dim_ * sizeof(float));
      if (with_offsets)
        for (size_t j = 0; j < dim_; ++j) {
          out[j] += threshold_[j];
          out[dim_ + j] -= threshold_[j];
        }
    }
  }

  BinaryEncoding encoding_;
  QueryEncoding query_encoding_;
  float center_;
  size_t lifted_, words_;
  std::vector<float> threshold_;
  bool trained_;
  std::vector<uint32_t> popcounts_;
};

}  // namespace

std::unique_ptr<VectorSet> make_binary_set(size_t dim, Metric metric, BinaryEncoding encoding,
                                           QueryEncoding query_encoding, float center) {
  return std::make_unique<BinarySet>(dim, metric, encoding, query_encoding, center);
}

}  // namespace vqdb
