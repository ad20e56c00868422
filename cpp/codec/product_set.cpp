// Product quantization: sub-vectors of sub_dim dimensions, 256 centroids each, one byte per
// sub-vector. Queries score through a lookup table (ADC): table[m][c] = score(q_m, centroid_c).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

#include "codec/kmeans.h"
#include "codec/vector_set.h"
#include "parallel.h"
#include "simd/kernels.h"

namespace vqdb {
namespace {

constexpr size_t kCentroids = 256;

#if defined(VQDB_X86)
#define VQDB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VQDB_CLONES
#endif

// A table is built for every query (49k entries at x16 on 768-d, from 768 KB of centroids), so
// it is written for the vector units: 16 floats at a time in GCC vector types, which every ISA
// clone lowers to its own registers. As element-wise loops (scalar min/max, a clamped
// conversion with blends) it was ~17% of a PQ walk at ef 128; now ~9%, mostly waiting on the
// centroids' loads. The helpers are always inlined, so no 64-byte vector crosses a call and
// GCC's note that such a return changes the ABI without AVX-512 does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
using F16 = float __attribute__((vector_size(64)));
using I16 = int32_t __attribute__((vector_size(64)));
using U16 = uint8_t __attribute__((vector_size(16)));

// Helpers of the cloned functions are inlined into each clone, so they get its ISA too.
#define VQDB_INLINE inline __attribute__((always_inline))

VQDB_INLINE F16 load16(const float* p) {
  F16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The sum over a row's dims of score(q_j, c_j) for 16 centroids, in dimension order (the same
// bits on every clone: -ffp-contract=off).
template <Metric kMetric>
VQDB_INLINE F16 sixteen_entries(const float* q, const float* c, size_t w) {
  F16 acc{};
  for (size_t j = 0; j < w; ++j, c += kCentroids) {
    const F16 cj = load16(c);
    if constexpr (kMetric == Metric::l2) {
      const F16 d = q[j] - cj;
      acc -= d * d;
    } else if constexpr (kMetric == Metric::l1) {
      acc -= (F16)((I16)(q[j] - cj) & 0x7fffffff);  // |d|: the sign bit off
    } else {
      acc += q[j] * cj;
    }
  }
  return acc;
}

VQDB_INLINE float lane_min(F16 v) {
  float r = v[0];
  for (int i = 1; i < 16; ++i) r = v[i] < r ? v[i] : r;
  return r;
}

VQDB_INLINE float lane_max(F16 v) {
  float r = v[0];
  for (int i = 1; i < 16; ++i) r = v[i] > r ? v[i] : r;
  return r;
}

// Sub-space m's row of the float table, t[c] = score(q_m, centroid_c), and each row's minimum
// (lo[m]); returns the widest row's range.
template <Metric kMetric>
VQDB_INLINE float table_rows(const float* q, const float* centroids, size_t n_sub,
                             size_t sub_dim, size_t dim, float* table, float* lo) {
  float range = 0.f;
  for (size_t m = 0; m < n_sub; ++m) {
    const size_t w = std::min(sub_dim, dim - m * sub_dim);
    const float* qm = q + m * sub_dim;
    const float* cm = centroids + m * sub_dim * kCentroids;
    float* t = table + m * kCentroids;
    F16 mn = sixteen_entries<kMetric>(qm, cm, w), mx = mn;
    std::memcpy(t, &mn, sizeof mn);
    for (size_t k = 16; k < kCentroids; k += 16) {
      const F16 row = sixteen_entries<kMetric>(qm, cm + k, w);
      std::memcpy(t + k, &row, sizeof row);
      mn = row < mn ? row : mn;
      mx = row > mx ? row : mx;
    }
    lo[m] = lane_min(mn);
    range = std::max(range, lane_max(mx) - lo[m]);
  }
  return range;
}

VQDB_CLONES float table_rows(Metric metric, const float* q, const float* centroids, size_t n_sub,
                             size_t sub_dim, size_t dim, float* table, float* lo) {
  switch (metric) {
    case Metric::l2: return table_rows<Metric::l2>(q, centroids, n_sub, sub_dim, dim, table, lo);
    case Metric::l1: return table_rows<Metric::l1>(q, centroids, n_sub, sub_dim, dim, table, lo);
    default: return table_rows<Metric::dot>(q, centroids, n_sub, sub_dim, dim, table, lo);
  }
}

// u = round((t - lo_m) / step), clamped to [0, 255] (a truncating conversion after +0.5).
VQDB_CLONES void quantize_rows(const float* table, const float* lo, size_t n_sub, float inv_step,
                               uint8_t* out) {
  const F16 zero{};
  for (size_t m = 0; m < n_sub; ++m)
    for (size_t k = 0; k < kCentroids; k += 16) {
      F16 u = (load16(table + m * kCentroids + k) - lo[m]) * inv_step + 0.5f;
      u = u < 0.f ? zero : u;
      u = u > 255.f ? zero + 255.f : u;
      const U16 bytes = __builtin_convertvector(__builtin_convertvector(u, I16), U16);
      std::memcpy(out + m * kCentroids + k, &bytes, sizeof bytes);
    }
}

// Scores sum a uint8 copy of the query's lookup table (entry = lo_m + step * u, one step for
// every sub-space, so the sum of u needs one multiply). The float table is 1 KB per sub-space,
// 192 KB at x16 on 768-d: it misses L1 on nearly every lookup, and the walk spent most of its
// time there. A quarter of the bytes scores a code ~1.6x faster; each entry is off by at most
// step / 2, so a sum by n_sub * step / 2, which moved recall@10 by under 0.0005 here (the
// walk only ranks candidates, and rescoring with the originals removes the error).
class ProductScorer final : public QueryScorer {
 public:
  // The table's rows are filled by the set (it owns the centroids), then quantized here.
  ProductScorer(const uint8_t* base, size_t n_sub, const std::vector<float>& table,
                const std::vector<float>& lo, float range)
      : base_(base), n_sub_(n_sub),
        lut_(static_cast<uint8_t*>(std::aligned_alloc(64, table.size()))) {
    if (!lut_) throw std::bad_alloc();
    step_ = range > 0.f ? range / 255.f : 1.f;
    for (float l : lo) lo_sum_ += l;
    quantize_rows(table.data(), lo.data(), n_sub, 1.f / step_, lut_.get());
  }

  // Codes are a few cache lines each: fetch every neighbour's whole code before the lookups.
  void score(const uint32_t* ids, size_t n, float* out) const override {
    for (size_t i = 0; i < n; ++i) prefetch_bytes(base_ + size_t(ids[i]) * n_sub_, n_sub_);
    for (size_t i = 0; i < n; ++i) out[i] = sum(base_ + size_t(ids[i]) * n_sub_);
  }

  void score_range(uint32_t first, size_t n, float* out) const override {
    const uint8_t* row = base_ + size_t(first) * n_sub_;
    for (size_t i = 0; i < n; ++i, row += n_sub_) out[i] = sum(row);
  }

 private:
  float sum(const uint8_t* codes) const {
    return lo_sum_ + step_ * float(simd::adc_pq_u8(lut_.get(), codes, n_sub_));
  }

  const uint8_t* base_;
  size_t n_sub_;
  // On cache-line boundaries: each sub-space's 256 entries are then 4 lines, not 5, and the
  // table's L1 footprint is what its size says.
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t[], Free> lut_;
  float lo_sum_ = 0.f, step_ = 1.f;
};

class ProductSet final : public VectorSet {
 public:
  ProductSet(size_t dim, Metric metric, const ProductOptions& options)
      : VectorSet(dim, metric), opt_(options) {
    if (options.sub_dim < 1 || options.sub_dim > 16)
      throw std::invalid_argument("product quantization sub-vectors must have 1 to 16 dimensions");
    n_sub_ = (dim + opt_.sub_dim - 1) / opt_.sub_dim;
    centroids_.assign(n_sub_ * opt_.sub_dim * kCentroids, 0.f);
  }

  size_t code_bytes() const override { return n_sub_; }
  bool trained() const override { return trained_; }
  bool scores_members() const override { return false; }
  size_t memory_bytes() const override {
    return VectorSet::memory_bytes() + centroids_.size() * sizeof(float);
  }

  void train(const float* x, size_t n) override {
    if (n == 0) throw std::invalid_argument("cannot train a product quantizer on zero vectors");
    // A seeded sample of rows, normalised like the vectors it will encode.
    const size_t rows = std::min(n, opt_.sample);
    uint64_t rng = opt_.seed;
    std::vector<float> sample(rows * dim_);
    for (size_t i = 0; i < rows; ++i) {
      const size_t r = rows == n ? i : size_t(splitmix64(rng) % n);
      std::memcpy(sample.data() + i * dim_, x + r * dim_, dim_ * sizeof(float));
    }
    prepare(sample.data(), rows);
    parallel_for(n_sub_, opt_.threads, 1, [&](size_t begin, size_t end) {
      std::vector<float> sub;
      for (size_t m = begin; m < end; ++m) {
        const size_t w = width(m);
        sub.resize(rows * w);
        for (size_t i = 0; i < rows; ++i)
          std::memcpy(sub.data() + i * w, sample.data() + i * dim_ + m * opt_.sub_dim, w * sizeof(float));
        const auto c = kmeans256(sub.data(), rows, w, opt_.iterations, opt_.seed + 1 + m);
        std::memcpy(centroid_block(m), c.data(), c.size() * sizeof(float));
      }
    });
    trained_ = true;
  }

  std::unique_ptr<QueryScorer> scorer(const float* query) const override {
    std::vector<float> q(query, query + dim_);
    prepare(q.data(), 1);
    return scorer_for_prepared(q.data());
  }

  std::unique_ptr<QueryScorer> member_scorer(uint32_t id) const override {
    std::vector<float> v(dim_);
    decode(codes(id), 1, v.data());
    return scorer_for_prepared(v.data());
  }

  float score_pair(uint32_t a, uint32_t b) const override {
    thread_local std::vector<float> va, vb;
    va.resize(dim_);
    vb.resize(dim_);
    decode(codes(a), 1, va.data());
    decode(codes(b), 1, vb.data());
    const auto& k = simd::active();
    switch (metric_) {
      case Metric::l2: return -k.l2_f32(va.data(), vb.data(), dim_);
      case Metric::l1: return -k.l1_f32(va.data(), vb.data(), dim_);
      default: return k.dot_f32(va.data(), vb.data(), dim_);
    }
  }

  void encode(const float* x, size_t n, uint8_t* codes) const override {
    const auto assign = simd::active().pq_assign;
    parallel_for(n, opt_.threads, 512, [&](size_t begin, size_t end) {
      std::vector<uint8_t> column(end - begin);
      for (size_t m = 0; m < n_sub_; ++m) {
        assign(x + begin * dim_ + m * opt_.sub_dim, end - begin, dim_, width(m), centroid_block(m),
               column.data(), nullptr);
        for (size_t i = begin; i < end; ++i) codes[i * n_sub_ + m] = column[i - begin];
      }
    });
  }

  void decode(const uint8_t* codes, size_t n, float* x) const override {
    for (size_t i = 0; i < n; ++i)
      for (size_t m = 0; m < n_sub_; ++m) {
        const float* c = centroid_block(m);
        const uint8_t code = codes[i * n_sub_ + m];
        for (size_t j = 0; j < width(m); ++j) x[i * dim_ + m * opt_.sub_dim + j] = c[j * kCentroids + code];
      }
  }

  State params() const override {
    State s;
    Array c{"float32", {n_sub_, opt_.sub_dim, kCentroids},
            std::vector<uint8_t>(centroids_.size() * sizeof(float))};
    std::memcpy(c.bytes.data(), centroids_.data(), c.bytes.size());
    s["centroids"] = c;
    return s;
  }

  void load_state(const State& state) override {
    const Array& c = state.at("centroids");
    if (c.size() != centroids_.size() * sizeof(float))
      throw std::invalid_argument("product centroids do not match the sub-vector layout");
    std::memcpy(centroids_.data(), c.data(), c.size());
    trained_ = true;
    VectorSet::load_state(state);
  }

 private:
  size_t width(size_t m) const { return std::min(opt_.sub_dim, dim_ - m * opt_.sub_dim); }
  float* centroid_block(size_t m) { return centroids_.data() + m * opt_.sub_dim * kCentroids; }
  const float* centroid_block(size_t m) const {
    return centroids_.data() + m * opt_.sub_dim * kCentroids;
  }

  std::unique_ptr<QueryScorer> scorer_for_prepared(const float* q) const {
    // Reused by each thread: a fresh 192 KB table per query is page faults and zeroing.
    thread_local std::vector<float> table, lo;
    table.resize(n_sub_ * kCentroids);
    lo.resize(n_sub_);
    const float range = table_rows(metric_, q, centroids_.data(), n_sub_, opt_.sub_dim, dim_,
                                   table.data(), lo.data());
    return std::make_unique<ProductScorer>(data(), n_sub_, table, lo, range);
  }

  ProductOptions opt_;
  size_t n_sub_;
  bool trained_ = false;
  std::vector<float> centroids_;  // per sub-space: sub_dim x 256, transposed
};

}  // namespace

std::unique_ptr<VectorSet> make_product_set(size_t dim, Metric metric, const ProductOptions& options) {
  return std::make_unique<ProductSet>(dim, metric, options);
}

}  // namespace vqdb
