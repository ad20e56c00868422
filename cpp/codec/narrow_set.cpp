// Originals stored narrower than float32: Qdrant's `datatype: float16` (2 bytes a dimension) and
// `uint8` (1 byte: the integers 0..255). Like the float32 set, they are exact scorers of what
// they store (rescoring, `ignore`, `exact`, graphs built on the originals): queries stay float32,
// and the kernels widen each stored element on the fly (F16C / AVX-512 vcvtph2ps, vpmovzxbd).
//
// Qdrant's semantics: a vector is converted on the way in (float16 rounds to nearest even;
// uint8 is Rust's saturating `as u8`: truncated toward zero, below 0 is 0, above 255 is 255) and
// so is the query before it is scored. Cosine: float16 rows are normalised, then rounded;
// uint8 rows cannot be normalised, so they are kept as given and scored by dot / (|q| |x|).
#include <algorithm>
#include <cmath>
#include <vector>

#include "codec/vector_set.h"
#include "simd/half.h"
#include "simd/kernels.h"

namespace vqdb {
namespace {

struct Half {
  using T = uint16_t;
  static constexpr bool kNormalises = true;
  static T from_float(float v) {
    // float16's largest finite value: larger magnitudes saturate rather than become infinity
    // (an infinite element would make scores NaN), a departure from Qdrant's from_f32.
    return simd::float_to_half(std::clamp(v, -65504.f, 65504.f));
  }
  static float to_float(T h) { return simd::half_to_float(h); }
};

struct Byte {
  using T = uint8_t;
  static constexpr bool kNormalises = false;
  static T from_float(float v) { return v >= 255.f ? 255 : v > 0.f ? T(v) : 0; }  // NaN: 0
  static float to_float(T b) { return float(b); }
};

template <class T>
using Kernel = float (*)(const float*, const T*, size_t);

Kernel<uint16_t> kernel_of(Metric metric, const uint16_t*) {
  const auto& k = simd::active();
  switch (metric) {
    case Metric::l2: return k.l2_f16;
    case Metric::l1: return k.l1_f16;
    default: return k.dot_f16;
  }
}

Kernel<uint8_t> kernel_of(Metric metric, const uint8_t*) {
  const auto& k = simd::active();
  switch (metric) {
    case Metric::l2: return k.l2_u8f32;
    case Metric::l1: return k.l1_u8f32;
    case Metric::cosine: return k.cos_u8f32;
    default: return k.dot_u8f32;
  }
}

// What multiplies a kernel's result: -1 for distances (higher is better); for uint8 cosine the
// query's inverse norm (the kernel divides by the row's), 0 for a zero query as in Qdrant.
template <class Traits>
float scale_of(Metric metric, const float* q, size_t dim) {
  if (metric == Metric::l2 || metric == Metric::l1) return -1.f;
  if (metric != Metric::cosine || Traits::kNormalises) return 1.f;
  double norm = 0.0;
  for (size_t j = 0; j < dim; ++j) norm += double(q[j]) * q[j];
  return norm > 0.0 ? float(1.0 / std::sqrt(norm)) : 0.f;
}

template <class T>
class NarrowScorer final : public QueryScorer {
 public:
  NarrowScorer(const T* base, size_t dim, Kernel<T> kernel, float scale, std::vector<float> query)
      : base_(base), dim_(dim), kernel_(kernel), scale_(scale), query_(std::move(query)) {}

  void score(const uint32_t* ids, size_t n, float* out) const override {
    score_each([&](size_t i) { return base_ + size_t(ids[i]) * dim_; }, n, out);
  }

  void score_rows(const uint8_t* const* rows, size_t n, float* out) const override {
    score_each([&](size_t i) { return reinterpret_cast<const T*>(rows[i]); }, n, out);
  }

  void score_range(uint32_t first, size_t n, float* out) const override {
    const T* row = base_ + size_t(first) * dim_;
    for (size_t i = 0; i < n; ++i, row += dim_) out[i] = scale_ * kernel_(query_.data(), row, dim_);
  }

 private:
  // Scattered rows (graph neighbours, candidates): fetch a few rows ahead while scoring.
  template <class RowAt>
  void score_each(RowAt row_at, size_t n, float* out) const {
    for (size_t i = 0; i < n; ++i) {
      if (i + 4 < n) prefetch_bytes(row_at(i + 4), std::min<size_t>(dim_ * sizeof(T), 256));
      out[i] = scale_ * kernel_(query_.data(), row_at(i), dim_);
    }
  }

  const T* base_;
  size_t dim_;
  Kernel<T> kernel_;
  float scale_;
  std::vector<float> query_;
};

template <class Traits>
class NarrowSet final : public VectorSet {
  using T = typename Traits::T;

 public:
  NarrowSet(size_t dim, Metric metric) : VectorSet(dim, metric) {}

  size_t code_bytes() const override { return dim_ * sizeof(T); }

  std::unique_ptr<QueryScorer> scorer(const float* query) const override {
    std::vector<float> q(query, query + dim_);
    prepare(q.data(), 1);
    for (float& v : q) v = Traits::to_float(Traits::from_float(v));  // as Qdrant: query in kind
    return bind(std::move(q));
  }

  std::unique_ptr<QueryScorer> member_scorer(uint32_t id) const override {
    std::vector<float> q(dim_);
    decode(codes(id), 1, q.data());
    return bind(std::move(q));
  }

  float score_pair(uint32_t a, uint32_t b) const override {
    thread_local std::vector<float> q;  // graph builds score millions of pairs
    q.resize(dim_);
    decode(codes(a), 1, q.data());
    return scale_of<Traits>(metric_, q.data(), dim_) *
           kernel_of(metric_, base())(q.data(), row(b), dim_);
  }

  void encode(const float* x, size_t n, uint8_t* codes) const override {
    T* out = reinterpret_cast<T*>(codes);
    for (size_t i = 0; i < n * dim_; ++i) out[i] = Traits::from_float(x[i]);
  }

  void decode(const uint8_t* codes, size_t n, float* x) const override {
    const T* in = reinterpret_cast<const T*>(codes);
    for (size_t i = 0; i < n * dim_; ++i) x[i] = Traits::to_float(in[i]);
  }

 protected:
  // float16 Cosine rows are normalised, except rows already unit within float16's rounding:
  // the optimizer re-adds decoded rows when it builds or merges segments, and normalising one
  // again could move an element by an ulp (measured: 1 in 12000 elements at 24-d) each time.
  void prepare(float* x, size_t n) const override {
    if (!Traits::kNormalises || metric_ != Metric::cosine) return;
    for (size_t i = 0; i < n; ++i) {
      float* row = x + i * dim_;
      double norm = 0.0;
      for (size_t j = 0; j < dim_; ++j) norm += double(row[j]) * row[j];
      if (std::fabs(norm - 1.0) > kUnit) VectorSet::prepare(row, 1);
    }
  }

  static constexpr double kUnit = 1.0 / 1024;  // a rounded unit row's squared norm is within 2^-10

 private:
  const T* base() const { return reinterpret_cast<const T*>(data()); }
  const T* row(uint32_t id) const { return base() + size_t(id) * dim_; }

  std::unique_ptr<QueryScorer> bind(std::vector<float> q) const {
    const float scale = scale_of<Traits>(metric_, q.data(), dim_);
    return std::make_unique<NarrowScorer<T>>(base(), dim_, kernel_of(metric_, base()), scale,
                                             std::move(q));
  }
};

}  // namespace

std::unique_ptr<VectorSet> make_float16_set(size_t dim, Metric metric) {
  return std::make_unique<NarrowSet<Half>>(dim, metric);
}

std::unique_ptr<VectorSet> make_uint8_set(size_t dim, Metric metric) {
  return std::make_unique<NarrowSet<Byte>>(dim, metric);
}

}  // namespace vqdb
