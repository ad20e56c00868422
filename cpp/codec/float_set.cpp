// Original float32 vectors: the exact scorer, used for rescoring, `ignore` and `exact`.
#include <algorithm>
#include <cstring>

#include "codec/vector_set.h"
#include "simd/kernels.h"

namespace vqdb {
namespace {

using Kernel = float (*)(const float*, const float*, size_t);

// Below 16 dimensions Qdrant sums the products one at a time, in order (its SIMD kernels start
// at 16): the plain loops give the float32 scores Qdrant shows, to the last bit (Dot, and the
// squared Euclid / Manhattan distances), where the SIMD lanes round differently. Such vectors
// are too short for SIMD to matter.
constexpr size_t kQdrantSimdMin = 16;

constexpr size_t kPrefetchAllBytes = 256 << 10;

const simd::Kernels& kernels_for(size_t dim) {
  return dim < kQdrantSimdMin ? simd::kSerial : simd::active();
}

Kernel kernel_for(Metric metric, size_t dim) {
  const auto& k = kernels_for(dim);
  switch (metric) {
    case Metric::l2: return k.l2_f32;
    case Metric::l1: return k.l1_f32;
    default: return k.dot_f32;
  }
}

using FourKernel = void (*)(const float*, const float* const*, size_t, float*);

FourKernel four_for(Metric metric, size_t dim) {
  const auto& k = kernels_for(dim);
  switch (metric) {
    case Metric::l2: return k.l24_f32;
    case Metric::l1: return nullptr;
    default: return k.dot4_f32;
  }
}

// Higher is better: distances are negated.
float sign_for(Metric metric) { return metric == Metric::l2 || metric == Metric::l1 ? -1.f : 1.f; }

class FloatScorer final : public QueryScorer {
 public:
  FloatScorer(const float* base, size_t dim, Metric metric, const float* query)
      : base_(base), dim_(dim), kernel_(kernel_for(metric, dim)), four_(four_for(metric, dim)),
        sign_(sign_for(metric)), query_(query, query + dim) {}

  // Graph neighbours are scattered rows: score them four at a time so that four rows stream
  // from memory together, and start fetching the next four meanwhile.
  void score(const uint32_t* ids, size_t n, float* out) const override {
    // A rescoring list is a few dozen scattered rows: ask memory for all of them at once (they
    // fit in L2), so their misses overlap instead of coming four rows at a time.
    const size_t bytes = dim_ * sizeof(float);
    if (n * bytes <= kPrefetchAllBytes)
      for (size_t i = 0; i < n; ++i) prefetch_bytes(base_ + size_t(ids[i]) * dim_, bytes);
    score_each([&](size_t i) { return base_ + size_t(ids[i]) * dim_; }, n, out);
  }

  void score_rows(const uint8_t* const* rows, size_t n, float* out) const override {
    score_each([&](size_t i) { return reinterpret_cast<const float*>(rows[i]); }, n, out);
  }

  void score_range(uint32_t first, size_t n, float* out) const override {
    const float* row = base_ + size_t(first) * dim_;
    for (size_t i = 0; i < n; ++i, row += dim_) out[i] = sign_ * kernel_(query_.data(), row, dim_);
  }

 private:
  // The four-row kernel rounds differently from the one-row kernel, so a row's score depends
  // on its place in the list: score() and score_rows() share this loop to agree bit for bit.
  template <class RowAt>
  void score_each(RowAt row_at, size_t n, float* out) const {
    size_t i = 0;
    if (four_)
      for (; i + 4 <= n; i += 4) {
        const float* rows[4];
        for (int r = 0; r < 4; ++r) rows[r] = row_at(i + r);
        for (size_t r = i + 4; r < std::min(n, i + 8); ++r) prefetch_bytes(row_at(r), 128);
        four_(query_.data(), rows, dim_, out + i);
        for (int r = 0; r < 4; ++r) out[i + r] *= sign_;
      }
    for (; i < n; ++i) out[i] = sign_ * kernel_(query_.data(), row_at(i), dim_);
  }

  const float* base_;
  size_t dim_;
  Kernel kernel_;
  FourKernel four_;
  float sign_;
  std::vector<float> query_;
};

class FloatSet final : public VectorSet {
 public:
  FloatSet(size_t dim, Metric metric) : VectorSet(dim, metric) {}

  size_t code_bytes() const override { return dim_ * sizeof(float); }

  std::unique_ptr<QueryScorer> scorer(const float* query) const override {
    std::vector<float> q(query, query + dim_);
    prepare(q.data(), 1);
    return std::make_unique<FloatScorer>(base(), dim_, metric_, q.data());
  }

  std::unique_ptr<QueryScorer> member_scorer(uint32_t id) const override {
    return std::make_unique<FloatScorer>(base(), dim_, metric_, base() + size_t(id) * dim_);
  }

  float score_pair(uint32_t a, uint32_t b) const override {
    return sign_for(metric_) *
           kernel_for(metric_, dim_)(base() + size_t(a) * dim_, base() + size_t(b) * dim_, dim_);
  }

  void encode(const float* x, size_t n, uint8_t* codes) const override {
    std::memcpy(codes, x, n * code_bytes());
  }
  void decode(const uint8_t* codes, size_t n, float* x) const override {
    std::memcpy(x, codes, n * code_bytes());
  }

 private:
  const float* base() const { return reinterpret_cast<const float*>(data()); }
};

}  // namespace

std::unique_ptr<VectorSet> make_float_set(size_t dim, Metric metric) {
  return std::make_unique<FloatSet>(dim, metric);
}

}  // namespace vqdb
