// TurboQuant-style codes: a randomized Hadamard rotation, then per-coordinate scalar grids.
//
//   x_c = x - mean            y = R x_c (R orthogonal)        u = y / |x_c|
//   k_j = round((u_j - lo_j) / step_j), clamped to the coordinate's 2^bits levels
//   c^_j = lo_j + step_j k_j  (the decoded coordinate)
//
// After the rotation every coordinate is a mix of all of x, so each one is close to Gaussian
// whatever the data looks like, and a grid fitted per coordinate (Lloyd iterations restricted to
// an evenly spaced grid: that keeps scoring an integer dot product) loses little.
//
// Scores use RaBitQ's estimator: <q_c, x_c> ~ |x_c| <c^, R q_c> / <c^, u>. Dividing by <c^, u>
// (how well the code points along the vector) removes the shrinkage of quantization, so the
// estimate is unbiased where the plain reconstruction |x_c| c^ is not; f = |x_c| / <c^, u> is
// stored with each code. The query side is R q_c times the grid steps, quantized to signed
// 8-bit integers: sum_j w_j k_j is then bit-plane popcounts of the query's 8 planes against
// the code's planes (the turbo_planes kernel, one per ISA), or at 4 bits a multiply-add of the
// query's bytes with the code's nibbles (turbo_nibbles: 32 popcounts a word cost more).
//
// Per code: the planes (plane p holds bit p of k for the coordinates that have it; bits4: the
// nibbles, k_2i and k_2i+1 in byte i), then two floats: f and e, where e is |x_c|^2 for L2 and
// <mean, x_c> for Dot / Cosine.
//
// `fixed` sets (the `turbo4` datatype of the originals) need no training: no mean, one grid
// of 16 levels for every coordinate, scaled per vector by its largest rotated coordinate, and
// f is that scale (for Cosine: what makes the decoded row a unit vector), so scores are those of
// the decoded vector and encode(decode(c)) is c.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "codec/vector_set.h"
#include "parallel.h"
#include "simd/kernels.h"

namespace vqdb {
namespace {

constexpr size_t kTrainRows = 8192;
constexpr size_t kLloydRounds = 10;
constexpr size_t kRefinePasses = 3;  // bits4's code refinement (TurboSet::refine)
constexpr size_t kRotationRounds = 3;
constexpr uint64_t kRotationSeed = 0x7572626f71756e74ull;  // fixed: codes must not depend on the run
constexpr int kQueryBits = 8;
constexpr float kFixedHalf = 7.5f;  // fixed grid: k - 7.5 for k in 0..15

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// In-place Walsh-Hadamard transform of n = 2^k values, scaled by 1/sqrt(n): orthogonal.
// Butterflies 8 apart or more run 8 at a time in GCC vector types (the same element-wise sums,
// so the same bits): the compiler left the plain loop scalar (turbo4 encodes: 13% faster).
void hadamard(float* x, size_t n) {
  typedef float f8 __attribute__((vector_size(32)));
  size_t h = 1;
  for (; h < n && h < 8; h *= 2)
    for (size_t i = 0; i < n; i += 2 * h)
      for (size_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
  for (; h < n; h *= 2)
    for (size_t i = 0; i < n; i += 2 * h)
      for (size_t j = i; j < i + h; j += 8) {
        f8 a, b;
        std::memcpy(&a, x + j, sizeof(a));
        std::memcpy(&b, x + j + h, sizeof(b));
        const f8 sum = a + b, diff = a - b;
        std::memcpy(x + j, &sum, sizeof(sum));
        std::memcpy(x + j + h, &diff, sizeof(diff));
      }
  const float s = 1.f / std::sqrt(float(n));
  for (size_t i = 0; i < n; ++i) x[i] *= s;
}

// Rounds of random signs then Hadamard transforms over the largest power of two P <= dim, once
// on the first P coordinates and once on the last P. The two blocks overlap whenever dim is not
// a power of two, so after two rounds every coordinate mixes all of them: an orthogonal
// O(d log d) rotation of exactly dim coordinates, with no padding to store.
class TurboRotation {
 public:
  explicit TurboRotation(size_t dim) : dim_(dim), block_(1) {
    while (block_ * 2 <= dim) block_ *= 2;
    uint64_t s = kRotationSeed ^ dim;
    signs_.resize(kRotationRounds * dim);
    for (float& v : signs_) v = (splitmix(s) >> 63) ? -1.f : 1.f;
  }

  void forward(float* x) const {
    for (size_t r = 0; r < kRotationRounds; ++r) {
      const float* sg = signs_.data() + r * dim_;
      for (size_t j = 0; j < dim_; ++j) x[j] *= sg[j];
      hadamard(x, block_);
      if (block_ < dim_) hadamard(x + dim_ - block_, block_);
    }
  }

  void inverse(float* x) const {
    for (size_t r = kRotationRounds; r-- > 0;) {
      if (block_ < dim_) hadamard(x + dim_ - block_, block_);
      hadamard(x, block_);
      const float* sg = signs_.data() + r * dim_;
      for (size_t j = 0; j < dim_; ++j) x[j] *= sg[j];
    }
  }

  const std::vector<float>& signs() const { return signs_; }
  size_t block() const { return block_; }

 private:
  size_t dim_, block_;
  std::vector<float> signs_;
};

size_t words_for(size_t bits) { return (bits + 63) / 64; }

// The code's layout: plane p covers coordinates [0, cover[p]) (bits1_5: plane 1 only the first
// half, which so has 4 levels where the rest has 2). bits4 has nibbles instead of planes, as
// many bytes as four planes would take (a multiple of 8: the floats after them stay aligned).
struct Layout {
  std::vector<size_t> cover, words, offset;  // per plane; offset in words from the code start
  size_t plane_words = 0;
  bool nibbles = false;
  size_t bytes = 0;  // before the two floats

  Layout(size_t dim, TurboBits bits) {
    switch (bits) {
      case TurboBits::bits1: cover = {dim}; break;
      case TurboBits::bits1_5: cover = {dim, (dim + 1) / 2}; break;
      case TurboBits::bits2: cover = {dim, dim}; break;
      case TurboBits::bits4: nibbles = true; break;
    }
    for (size_t c : cover) {
      offset.push_back(plane_words);
      words.push_back(words_for(c));
      plane_words += words.back();
    }
    bytes = nibbles ? words_for(dim) * 32 : plane_words * 8;
  }
  size_t planes() const { return cover.size(); }
  size_t levels(size_t j) const {
    if (nibbles) return 16;
    size_t n = 0;
    for (size_t c : cover) n += j < c;
    return size_t(1) << n;
  }
  uint32_t k(const uint8_t* code, size_t j) const {
    if (nibbles) return code[j / 2] >> (4 * (j % 2)) & 15u;
    const uint64_t* planes = reinterpret_cast<const uint64_t*>(code);
    uint32_t v = 0;
    for (size_t p = 0; p < cover.size(); ++p)
      if (j < cover[p]) v |= uint32_t(planes[offset[p] + j / 64] >> (j % 64) & 1u) << p;
    return v;
  }
  void set_k(uint8_t* code, size_t j, uint32_t v) const {  // into a zeroed code
    if (nibbles) {
      code[j / 2] |= uint8_t(v << (4 * (j % 2)));
      return;
    }
    uint64_t* planes = reinterpret_cast<uint64_t*>(code);
    for (size_t p = 0; p < cover.size(); ++p)
      if (j < cover[p] && (v >> p & 1u)) planes[offset[p] + j / 64] |= uint64_t(1) << (j % 64);
  }
};

struct Side {
  float f, e;
};

class TurboSet;

// A query bound to a TurboSet: its rotated, centred form as 8-bit planes, per code plane.
class TurboScorer final : public QueryScorer {
 public:
  TurboScorer(const TurboSet& set, const float* query);
  // A stored row as the query (graph builds): from its rotated form f c^, no rotation needed.
  TurboScorer(const TurboSet& set, const uint8_t* code);

  void score(const uint32_t* ids, size_t n, float* out) const override;
  void score_rows(const uint8_t* const* rows, size_t n, float* out) const override {
    for (size_t i = 0; i < n; ++i) {
      if (i + 4 < n) prefetch_bytes(rows[i + 4], std::min<size_t>(code_bytes_, 256));
      out[i] = one(rows[i]);
    }
  }
  void score_range(uint32_t first, size_t n, float* out) const override;

 private:
  float one(const uint8_t* code) const;
  void quantize(const float* y);  // the rotated, centred query into groups_ / nibbles_

  const TurboSet& set_;
  size_t code_bytes_;
  // The query's 8 planes over every coordinate: planes_[t * words + w], plane 7 the sign (code
  // planes that cover fewer coordinates, bits1_5's plane 1, hold zeros past them).
  std::vector<uint64_t> planes_;
  std::vector<int8_t> nibbles_;  // bits4: the query's bytes for low nibbles, then for high ones
  float a_ = 0.f, ws_ = 1.f;      // sum_j q'_j lo_j and the query's integer scale
  float constant_ = 0.f;          // <q, mean> (Dot) or |q_c|^2 (L2)
  std::vector<float> query_;      // the prepared query, for L1 (scored on decoded rows)
  int64_t (*kernel_)(const uint64_t*, const uint64_t*, size_t, size_t, size_t);
  int32_t (*nibble_kernel_)(const int8_t*, const uint8_t*, size_t);
};

class TurboSet final : public VectorSet {
 public:
  TurboSet(size_t dim, Metric metric, TurboBits bits, bool fixed)
      : VectorSet(dim, metric), bits_(bits), fixed_(fixed), layout_(dim, bits), rotation_(dim),
        mean_(dim, 0.f), lo_(dim, -kFixedHalf), step_(dim, 1.f), trained_(fixed) {
    if (fixed && bits != TurboBits::bits4)
      throw std::invalid_argument("fixed turbo sets (the turbo4 datatype) have 4 bits");
    if (dim < 2) throw std::invalid_argument("turbo quantization needs at least 2 dimensions");
    refresh();
  }

  size_t code_bytes() const override { return layout_.bytes + sizeof(Side); }
  bool trained() const override { return trained_; }
  // Graphs are built over the codes (member scorers decode one member; pair scores are the
  // popcounts below), as Qdrant builds its turbo graphs: a float32 build reads 4-32x the bytes.
  bool scores_members() const override { return true; }
  size_t memory_bytes() const override {
    return VectorSet::memory_bytes() + 4 * dim_ * sizeof(float) + rotation_.signs().size() * 4;
  }

  void train(const float* x, size_t n) override {
    if (fixed_) return;
    if (n == 0) throw std::invalid_argument("cannot train a turbo quantizer on zero vectors");
    const size_t rows = std::min(n, kTrainRows), stride = n / rows;
    std::vector<float> sample(rows * dim_);
    for (size_t i = 0; i < rows; ++i)
      std::memcpy(sample.data() + i * dim_, x + i * stride * dim_, dim_ * sizeof(float));
    prepare(sample.data(), rows);
    for (const float v : sample) if (!std::isfinite(v))
      throw std::invalid_argument("turbo quantization needs finite vectors");
    std::vector<double> mean(dim_, 0.0);
    for (size_t i = 0; i < rows; ++i)
      for (size_t j = 0; j < dim_; ++j) mean[j] += sample[i * dim_ + j];
    for (size_t j = 0; j < dim_; ++j) mean_[j] = float(mean[j] / double(rows));
    // Unit rotated residuals (rows at the mean left out), one column per coordinate.
    std::vector<float> u(rows * dim_);
    std::vector<uint8_t> kept(rows);
    parallel_for(rows, 0, 256, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i)
        kept[i] = unit_rotated(sample.data() + i * dim_, u.data() + i * dim_) > 0.f;
    });
    parallel_for(dim_, 0, 16, [&](size_t begin, size_t end) {
      std::vector<float> column;
      for (size_t j = begin; j < end; ++j) {
        column.clear();
        for (size_t i = 0; i < rows; ++i)
          if (kept[i]) column.push_back(u[i * dim_ + j]);
        fit_grid(column, layout_.levels(j), lo_[j], step_[j]);
      }
    });
    trained_ = true;
    refresh();
  }

  std::unique_ptr<QueryScorer> scorer(const float* query) const override {
    std::vector<float> q(query, query + dim_);
    prepare(q.data(), 1);
    return std::make_unique<TurboScorer>(*this, q.data());
  }

  std::unique_ptr<QueryScorer> member_scorer(uint32_t id) const override {
    if (metric_ != Metric::l1) return std::make_unique<TurboScorer>(*this, codes(id));
    std::vector<float> q(dim_);
    decode(codes(id), 1, q.data());
    return std::make_unique<TurboScorer>(*this, q.data());
  }

  // Stored against stored, for the graph build: the decoded rows' dot product in the rotated
  // space, f_a f_b <c^_a, c^_b> (what member_scorer(a) estimates for b), from popcounts of plane
  // pairs. Within a segment of coordinates with the same levels the grids are alike after the
  // rotation, so c^_j ~ S (k_j - c) with the segment's mean step S and centre c:
  // <c^_a, c^_b> ~ S^2 (sum k_a k_b - c (K_a + K_b) + n c^2). Exact for turbo4 originals.
  // Dot / Cosine add the mean's terms (|mean|^2 + <mean, x_ca> + <mean, x_cb>); L2 is the
  // squared distance of the decoded rows; L1 decodes both.
  float score_pair(uint32_t a, uint32_t b) const override {
    const uint8_t* ca = codes(a);
    const uint8_t* cb = codes(b);
    const Side sa = side(ca), sb = side(cb);
    if (metric_ == Metric::l1) {
      std::vector<float> xa(dim_), xb(dim_);
      decode(ca, 1, xa.data());
      decode(cb, 1, xb.data());
      double s = 0.0;
      for (size_t j = 0; j < dim_; ++j) s += std::fabs(double(xa[j]) - xb[j]);
      return -float(s);
    }
    const double ab = sa.f * double(sb.f) * code_dot(ca, cb);
    if (metric_ == Metric::l2) {
      const double aa = sa.f * double(sa.f) * code_dot(ca, ca);
      const double bb = sb.f * double(sb.f) * code_dot(cb, cb);
      return -float(aa + bb - 2.0 * ab);
    }
    return float(ab + mean_norm2_ + sa.e + sb.e);
  }

  // Rows are independent: encoded on every core (bits4's refinement makes a row ~20 us).
  void encode(const float* x, size_t n, uint8_t* codes) const override {
    parallel_for(n, 0, 256, [&](size_t begin, size_t end) { encode_rows(x, begin, end, codes); });
  }

  void encode_rows(const float* x, size_t begin, size_t end, uint8_t* codes) const {
    std::vector<float> y(dim_);
    std::vector<uint8_t> k(dim_);
    for (size_t i = begin; i < end; ++i) {
      const float* row = x + i * dim_;
      uint8_t* code = codes + i * code_bytes();
      std::memset(code, 0, code_bytes());
      Side s{0.f, 0.f};
      if (fixed_) {
        std::memcpy(y.data(), row, dim_ * sizeof(float));
        rotation_.forward(y.data());
        float amax = 0.f;
        for (const float v : y) amax = std::max(amax, std::fabs(v));
        const float scale = amax > 0.f ? amax / kFixedHalf : 0.f;
        double n2 = 0.0;
        for (size_t j = 0; j < dim_; ++j) {
          k[j] = scale > 0.f ? level(y[j] / scale + kFixedHalf, 16) : 8;
          const double c = scale * (double(k[j]) - kFixedHalf);
          n2 += c * c;
        }
        // Cosine rows are unit vectors: decoded to unit length too, so that a decoded row
        // stored again (a partial vector update re-upserts the others) keeps its codes and
        // scale instead of being renormalised by a fraction of a percent.
        s.f = metric_ == Metric::cosine && n2 > 0.0 ? float(scale / std::sqrt(n2)) : scale;
        s.e = metric_ == Metric::l2 ? float(n2) : 0.f;
      } else {
        const float r = unit_rotated(row, y.data());
        for (size_t j = 0; j < dim_; ++j) k[j] = level((y[j] - lo_[j]) / step_[j], layout_.levels(j));
        if (layout_.nibbles && r > 0.f) refine(y.data(), k.data());
        double ip = 0.0, dot_mean = 0.0;
        for (size_t j = 0; j < dim_; ++j) {
          ip += (double(lo_[j]) + double(step_[j]) * k[j]) * y[j];
          dot_mean += double(mean_[j]) * (double(row[j]) - mean_[j]);
        }
        s.f = r > 0.f && ip > 1e-12 ? float(double(r) / ip) : 0.f;
        s.e = metric_ == Metric::l2 ? r * r : float(dot_mean);
      }
      for (size_t j = 0; j < dim_; ++j) layout_.set_k(code, j, k[j]);
      std::memcpy(code + layout_.bytes, &s, sizeof(s));
    }
  }

  // The vector the scores estimate against: mean + R^T (f c^).
  void decode(const uint8_t* codes, size_t n, float* x) const override {
    for (size_t i = 0; i < n; ++i) {
      float* row = x + i * dim_;
      rotated(codes + i * code_bytes(), row);
      rotation_.inverse(row);
      for (size_t j = 0; j < dim_; ++j) row[j] += mean_[j];
    }
  }

  State params() const override {
    State s;
    s["mean"] = floats(mean_);
    s["lo"] = floats(lo_);
    s["step"] = floats(step_);
    s["signs"] = floats(rotation_.signs());  // derived from a fixed seed: exported, never loaded
    if (layout_.nibbles) s["nibbles"] = Array{"uint8", {1}, {1}};
    return s;
  }

  void load_state(const State& state) override {
    // 4-bit codes were bit planes before they were nibbles, of the same size: a state without
    // the mark would load and score as other vectors, so it is refused instead.
    if (layout_.nibbles && !state.count("nibbles"))
      throw std::invalid_argument(
          "4-bit turbo codes from an older vqdb (bit planes, not nibbles): rebuild them");
    if (!fixed_) {
      read_floats(state.at("mean"), mean_);
      read_floats(state.at("lo"), lo_);
      read_floats(state.at("step"), step_);
      trained_ = true;
      refresh();
    }
    VectorSet::load_state(state);
  }

  // For the scorer.
  const Layout& layout() const { return layout_; }
  const TurboRotation& rotation() const { return rotation_; }
  const std::vector<float>& mean() const { return mean_; }
  const std::vector<float>& rotated_mean() const { return rotated_mean_; }
  double mean_norm2() const { return mean_norm2_; }
  const std::vector<float>& lo() const { return lo_; }
  const std::vector<float>& step() const { return step_; }
  bool fixed() const { return fixed_; }
  static Side side(const uint8_t* code, size_t bytes) {
    Side s;
    std::memcpy(&s, code + bytes, sizeof(s));
    return s;
  }
  Side side(const uint8_t* code) const { return side(code, layout_.bytes); }

  // f c^ of one code: the rotated, centred vector the scores estimate with.
  void rotated(const uint8_t* code, float* y) const {
    const float f = side(code).f;
    for (size_t j = 0; j < dim_; ++j) y[j] = f * (lo_[j] + step_[j] * float(layout_.k(code, j)));
  }

 private:
  // Coordinates [first, last) with the same levels, and their grids' mean step and centre.
  struct Segment {
    size_t first, last;
    double step, centre;
  };

  // <c^_a, c^_b> by segments (see score_pair): one pair kernel call per score.
  double code_dot(const uint8_t* ca, const uint8_t* cb) const {
    if (layout_.nibbles) {  // one segment: every coordinate has 16 levels
      int32_t k[3];
      simd::active().turbo_nibble_pair(ca, cb, layout_.bytes, k);
      return segment_dot(segments_.front(), k[0], int64_t(k[1]) + k[2]);
    }
    const uint64_t* pa = reinterpret_cast<const uint64_t*>(ca);
    const uint64_t* pb = reinterpret_cast<const uint64_t*>(cb);
    if (bits_ == TurboBits::bits1_5) {  // two segments, both in one pass
      int64_t k[4];
      simd::active().turbo_pair15(pa, pb, layout_.words[0], layout_.words[1], cover1_.data(), k);
      return segment_dot(segments_[0], k[0], k[1]) + segment_dot(segments_[1], k[2], k[3]);
    }
    const Segment& g = segments_.front();  // bits1, bits2: every coordinate has the same levels
    int64_t k[3];
    simd::active().turbo_pair(pa, pb, layout_.planes(), layout_.words[0], k);
    return segment_dot(g, k[0], k[1] + k[2]);
  }

  // S^2 (sum k_a k_b - c (K_a + K_b) + n c^2) for a segment's sums.
  static double segment_dot(const Segment& g, int64_t kk, int64_t k_sum) {
    const double n = double(g.last - g.first), c = g.centre;
    return g.step * g.step * (double(kk) - c * double(k_sum) + n * c * c);
  }

  // Rounding each coordinate to its nearest level minimises |c^ - u|, but what the estimator
  // gets wrong is the angle between c^ and u (f rescales c^ along u). So one-level moves that
  // raise cos(c^, u) = <c^, u> / |c^| are taken, coordinate by coordinate, a few passes (the
  // extended RaBitQ searches a per-vector scale for the same end). At 4 bits, recall@10 at
  // HNSW ef 128 (peers.py): minilm-384 0.9597 -> 0.9603, wordnet-768 0.9685 -> 0.9706; 2 to 8
  // passes and steps 7% wider or narrower all landed within 0.001 of these (noise). Not for
  // bits1-2: they are rescored, and fixed sets must keep encode(decode(c)) == c.
  void refine(const float* u, uint8_t* k) const {
    double d = 0.0, nn = 0.0;  // <c^, u> and |c^|^2
    for (size_t j = 0; j < dim_; ++j) {
      const double c = double(lo_[j]) + double(step_[j]) * k[j];
      d += c * u[j];
      nn += c * c;
    }
    for (size_t pass = 0; pass < kRefinePasses; ++pass) {
      bool moved = false;
      for (size_t j = 0; j < dim_; ++j) {
        const double s = step_[j], c = double(lo_[j]) + s * k[j];
        double best_d = d, best_n = nn;
        int best = 0;
        for (const int m : {-1, 1}) {
          if ((m < 0 && k[j] == 0) || (m > 0 && k[j] == 15)) continue;
          const double d2 = d + m * s * u[j], n2 = nn + m * s * (2.0 * c + m * s);
          // d2 / sqrt(n2) > best_d / sqrt(best_n), without the roots
          if (d2 > 0.0 && d2 * d2 * best_n > best_d * best_d * n2) best_d = d2, best_n = n2, best = m;
        }
        if (best == 0) continue;
        k[j] = uint8_t(k[j] + best);
        d = best_d, nn = best_n;
        moved = true;
      }
      if (!moved) break;
    }
  }

  // floor(v + 0.5) clamped to [0, levels - 1], by truncation after the clamp: portable builds
  // have no SSE4.1 rounding instruction, so std::floor is a libm call (a fifth of an encode).
  static uint8_t level(float v, size_t levels) {
    if (!(v == v)) return 0;
    return uint8_t(std::clamp(v + 0.5f, 0.f, float(levels) - 0.5f));
  }

  // R (x - mean) / |x - mean| into y; returns |x - mean| (0: y is all zeros).
  float unit_rotated(const float* x, float* y) const {
    double r2 = 0.0;
    for (size_t j = 0; j < dim_; ++j) {
      y[j] = x[j] - mean_[j];
      r2 += double(y[j]) * y[j];
    }
    const float r = float(std::sqrt(r2));
    if (r == 0.f) return 0.f;
    rotation_.forward(y);
    const float inv = 1.f / r;
    for (size_t j = 0; j < dim_; ++j) y[j] *= inv;
    return r;
  }

  // Lloyd iterations for an evenly spaced grid of `levels` values: assign each value to its
  // nearest grid point, then refit (lo, step) by least squares of value on grid index.
  static void fit_grid(const std::vector<float>& v, size_t levels, float& lo, float& step) {
    // Gaussian-optimal uniform steps (in standard deviations) to start from.
    const double start = levels == 2 ? 1.596 : levels == 4 ? 0.9957 : 0.3352;
    double m = 0.0, m2 = 0.0;
    for (const float x : v) { m += x; m2 += double(x) * x; }
    const double count = std::max<double>(1.0, double(v.size()));
    m /= count;
    const double sd = std::sqrt(std::max(0.0, m2 / count - m * m));
    double st = sd > 0.0 ? start * sd : 1.0, l = m - st * double(levels - 1) / 2.0;
    for (size_t round = 0; round < kLloydRounds && sd > 0.0; ++round) {
      double sk = 0.0, skk = 0.0, sv = 0.0, skv = 0.0;
      for (const float x : v) {
        const double k = double(int(std::clamp((x - l) / st + 0.5, 0.0, double(levels) - 0.5)));
        sk += k; skk += k * k; sv += x; skv += k * x;
      }
      const double var_k = skk - sk * sk / count;
      if (var_k <= 0.0) break;
      const double next = (skv - sk * sv / count) / var_k;
      if (!(next > 0.0)) break;
      const bool settled = std::fabs(next - st) < 1e-6 * st;  // the assignment no longer moves
      st = next;
      l = (sv - st * sk) / count;
      if (settled) break;
    }
    lo = float(l);
    step = float(st);
  }

  static Array floats(const std::vector<float>& v) {
    Array a{"float32", {v.size()}, std::vector<uint8_t>(v.size() * sizeof(float))};
    std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
    return a;
  }
  void read_floats(const Array& a, std::vector<float>& v) const {
    if (a.size() != v.size() * sizeof(float))
      throw std::invalid_argument("turbo parameters do not match the dimension");
    std::memcpy(v.data(), a.data(), a.size());
  }
  void refresh() {
    double s = 0.0;
    for (const float m : mean_) s += double(m) * m;
    mean_norm2_ = s;
    rotated_mean_ = mean_;
    rotation_.forward(rotated_mean_.data());
    segments_.clear();
    size_t first = 0;
    while (first < dim_) {
      size_t last = first + 1;
      while (last < dim_ && layout_.levels(last) == layout_.levels(first)) ++last;
      Segment g{first, last, 0.0, 0.0};
      for (size_t j = first; j < last; ++j) {
        g.step += step_[j];
        g.centre += -lo_[j] / step_[j];
      }
      g.step /= double(last - first);
      g.centre /= double(last - first);
      segments_.push_back(g);
      first = last;
    }
    if (bits_ == TurboBits::bits1_5) {
      cover1_.assign(layout_.words[1], 0);
      for (size_t j = 0; j < layout_.cover[1]; ++j) cover1_[j / 64] |= uint64_t(1) << (j % 64);
    }
  }

  TurboBits bits_;
  bool fixed_;
  Layout layout_;
  TurboRotation rotation_;
  std::vector<float> mean_, lo_, step_, rotated_mean_;  // rotated_mean_: R mean
  double mean_norm2_ = 0.0;
  std::vector<Segment> segments_;
  std::vector<uint64_t> cover1_;  // bits1_5: plane 1's coordinates, as bits of plane 0's words
  bool trained_;
};

TurboScorer::TurboScorer(const TurboSet& set, const float* query)
    : set_(set), code_bytes_(set.code_bytes()), kernel_(simd::active().turbo_planes),
      nibble_kernel_(simd::active().turbo_nibbles) {
  const size_t dim = set.dim();
  query_.assign(query, query + dim);
  std::vector<float> y(dim);
  double qm = 0.0, qc2 = 0.0;
  for (size_t j = 0; j < dim; ++j) {
    y[j] = query[j] - set.mean()[j];
    qm += double(query[j]) * set.mean()[j];
    qc2 += double(y[j]) * y[j];
  }
  constant_ = set.metric() == Metric::l2 ? float(qc2) : float(qm);
  set.rotation().forward(y.data());
  quantize(y.data());
}

// The decoded row is mean + R^T y with y = f c^: |q_c|^2 = |y|^2 and <q, mean> = |mean|^2 +
// <y, R mean>, so neither rotation is needed (they were a tenth of a graph build). L1 scores
// decoded rows: its member scorers take the other constructor.
TurboScorer::TurboScorer(const TurboSet& set, const uint8_t* code)
    : set_(set), code_bytes_(set.code_bytes()), kernel_(simd::active().turbo_planes),
      nibble_kernel_(simd::active().turbo_nibbles) {
  const size_t dim = set.dim();
  std::vector<float> y(dim);
  set.rotated(code, y.data());
  double ym = 0.0, y2 = 0.0;
  for (size_t j = 0; j < dim; ++j) {
    ym += double(y[j]) * set.rotated_mean()[j];
    y2 += double(y[j]) * y[j];
  }
  constant_ = set.metric() == Metric::l2 ? float(y2) : float(set.mean_norm2() + ym);
  quantize(y.data());
}

void TurboScorer::quantize(const float* y) {
  const size_t dim = set_.dim();
  const Layout& layout = set_.layout();
  double a = 0.0;
  float wmax = 0.f;
  std::vector<float> w(dim);
  for (size_t j = 0; j < dim; ++j) {
    a += double(y[j]) * set_.lo()[j];
    w[j] = y[j] * set_.step()[j];
    wmax = std::max(wmax, std::fabs(w[j]));
  }
  a_ = float(a);
  ws_ = wmax > 0.f ? wmax / 127.f : 1.f;
  std::vector<uint8_t> u(dim);
  for (size_t j = 0; j < dim; ++j)
    u[j] = uint8_t(int8_t(std::clamp(std::nearbyint(w[j] / ws_), -127.f, 127.f)));
  if (layout.nibbles) {
    nibbles_.assign(2 * layout.bytes, 0);
    for (size_t j = 0; j < dim; ++j) nibbles_[j % 2 * layout.bytes + j / 2] = int8_t(u[j]);
    return;
  }
  // A word of every plane at a time, without branches: a bit test per coordinate and plane
  // mispredicted half the time (a member scorer per inserted node: 6% of a graph build).
  const size_t words = layout.words[0];
  planes_.resize(kQueryBits * words);
  for (size_t w = 0; w < words; ++w) {
    uint64_t bits[kQueryBits] = {};
    for (size_t j = w * 64; j < std::min(dim, w * 64 + 64); ++j)
      for (int t = 0; t < kQueryBits; ++t) bits[t] |= uint64_t(u[j] >> t & 1u) << (j % 64);
    for (int t = 0; t < kQueryBits; ++t) planes_[t * words + w] = bits[t];
  }
}

float TurboScorer::one(const uint8_t* code) const {
  const Layout& layout = set_.layout();
  const Side s = TurboSet::side(code, layout.bytes);
  if (set_.metric() == Metric::l1) {
    std::vector<float> x(set_.dim());
    set_.decode(code, 1, x.data());
    double d = 0.0;
    for (size_t j = 0; j < x.size(); ++j) d += std::fabs(double(x[j]) - query_[j]);
    return -float(d);
  }
  const uint64_t* planes = reinterpret_cast<const uint64_t*>(code);
  const int64_t dot = layout.nibbles
                        ? nibble_kernel_(nibbles_.data(), code, layout.bytes)
                        : kernel_(planes_.data(), planes, layout.planes(), layout.words[0],
                                  layout.words.back());
  const float estimate = s.f * (a_ + ws_ * float(dot));
  if (set_.metric() == Metric::l2) return -(constant_ + s.e - 2.f * estimate);
  return constant_ + s.e + estimate;
}

void TurboScorer::score(const uint32_t* ids, size_t n, float* out) const {
  const uint8_t* base = set_.data();
  for (size_t i = 0; i < n; ++i)
    prefetch_bytes(base + size_t(ids[i]) * code_bytes_, std::min<size_t>(code_bytes_, 512));
  for (size_t i = 0; i < n; ++i) out[i] = one(base + size_t(ids[i]) * code_bytes_);
}

void TurboScorer::score_range(uint32_t first, size_t n, float* out) const {
  const uint8_t* row = set_.data() + size_t(first) * code_bytes_;
  for (size_t i = 0; i < n; ++i, row += code_bytes_) out[i] = one(row);
}

}  // namespace

std::unique_ptr<VectorSet> make_turbo_set(size_t dim, Metric metric, TurboBits bits) {
  return std::make_unique<TurboSet>(dim, metric, bits, false);
}

std::unique_ptr<VectorSet> make_turbo4_set(size_t dim, Metric metric) {
  return std::make_unique<TurboSet>(dim, metric, TurboBits::bits4, true);
}

}  // namespace vqdb
