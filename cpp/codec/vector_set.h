// The one interface between storage codecs and the indexes: a set of stored vectors that can
// score a query against any of its members. The graph and the plain scan see only this, so one
// HNSW works over float32, int8, binary and PQ storage alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "memory.h"

namespace vqdb {

// Scores are "higher is better" everywhere in the engine: Dot as is, L2 as the negated squared
// distance, L1 as the negated distance. Cosine is Dot over vectors normalised on the way in.
enum class Metric { dot, cosine, l2, l1 };

Metric parse_metric(const std::string& name);

// A query bound to one vector set. Scoring is read-only, so one set serves many threads.
class QueryScorer {
 public:
  virtual ~QueryScorer() = default;
  virtual void score(const uint32_t* ids, size_t n, float* out) const = 0;
  // Contiguous ids [first, first + n): the plain scan's hot loop.
  virtual void score_range(uint32_t first, size_t n, float* out) const;
  // Rows given by address rather than id: the set's own, or copies a RowReader gathered from
  // its file. Scores equal score() of the same rows in the same order, bit for bit. Only the
  // float32 originals implement it: they are what rescoring reads.
  virtual void score_rows(const uint8_t* const* rows, size_t n, float* out) const;
};

// A typed, contiguous array for exporting and importing state (Python owns persistence).
// Exports own their bytes; imports borrow the caller's buffer for the length of the load, so
// loading a file's codes or links copies them once, into their final place.
struct Array {
  std::string dtype;           // numpy dtype string: "float32", "uint8", "uint32", "uint64", "int32"
  std::vector<size_t> shape;
  std::vector<uint8_t> bytes;  // row-major, owned
  const uint8_t* borrowed = nullptr;  // or row-major in a buffer the caller keeps alive
  size_t borrowed_size = 0;

  const uint8_t* data() const { return borrowed ? borrowed : bytes.data(); }
  size_t size() const { return borrowed ? borrowed_size : bytes.size(); }
};
using State = std::map<std::string, Array>;

class VectorSet {
 public:
  virtual ~VectorSet() = default;

  size_t dim() const { return dim_; }
  Metric metric() const { return metric_; }
  size_t size() const { return size_; }
  virtual size_t code_bytes() const = 0;   // bytes per stored vector
  virtual bool trained() const { return true; }
  // Whether member_scorer / score_pair are cheap enough to build a graph with. PQ's are not
  // (each needs a decode or a lookup table), so its graphs are built from the originals.
  virtual bool scores_members() const { return true; }
  // Bytes held in RAM: owned codes plus per-vector side data and codec parameters.
  virtual size_t memory_bytes() const { return codes_.capacity(); }

  // Learns codec parameters from a sample (float32 rows); a no-op for codecs that need none.
  virtual void train(const float* x, size_t n) { (void)x; (void)n; }
  // Encodes and appends n rows; returns the offset of the first.
  uint32_t add(const float* x, size_t n);
  // Re-encodes rows in place (vector updates).
  void set(const uint32_t* ids, const float* x, size_t n);

  virtual std::unique_ptr<QueryScorer> scorer(const float* query) const = 0;
  // A query of `rows` consecutive rows of dim() floats: a multivector set scores it by MaxSim;
  // every other set takes exactly one row.
  virtual std::unique_ptr<QueryScorer> multi_scorer(const float* query, size_t rows) const;
  // Whether members are groups of rows (MultiVectorSet) rather than one row each.
  virtual bool multi() const { return false; }
  // Scorer bound to a stored member, and a single stored-vs-stored score: graph construction.
  virtual std::unique_ptr<QueryScorer> member_scorer(uint32_t id) const = 0;
  virtual float score_pair(uint32_t a, uint32_t b) const = 0;
  // The graph's pruning rule as a bar on pair scores: a pair scoring above it is nearer than a
  // pair scoring `score`, by a factor `slack` on squared distance (squared Euclidean, or what
  // stands for it). Dot products of unnormalised vectors are no distance: the bar is `score`.
  virtual float nearer_bar(float score, float slack) const;

  // Codec round trip for n rows (codes are code_bytes() each).
  virtual void encode(const float* x, size_t n, uint8_t* codes) const = 0;
  virtual void decode(const uint8_t* codes, size_t n, float* x) const = 0;
  const uint8_t* codes(uint32_t id) const { return data() + size_t(id) * code_bytes(); }
  // All codes, row-major: owned, or the caller's buffer after view().
  const uint8_t* data() const { return view_ ? view_ : codes_.data(); }

  // Reads `rows` codes from a buffer the caller owns and keeps alive (a read-only memory map of
  // a segment file) instead of a copy. The set is read-only from then on.
  virtual void view(const uint8_t* codes, size_t rows);
  bool read_only() const { return view_ != nullptr; }

  // Codec parameters (bounds, thresholds, centroids), and those plus "codes".
  virtual State params() const { return {}; }
  virtual State state() const;
  virtual void load_state(const State& state);

 protected:
  VectorSet(size_t dim, Metric metric) : dim_(dim), metric_(metric) {}
  // Normalises rows in place when the metric is cosine (zero rows stay zero); uint8 originals
  // keep their values (Qdrant normalises nothing it stores as uint8).
  virtual void prepare(float* x, size_t n) const;
  // Hook for codecs that keep per-vector side data (corrections, popcounts).
  virtual void on_encoded(uint32_t first, size_t n) { (void)first; (void)n; }

  size_t dim_;
  Metric metric_;
  size_t size_ = 0;
  GrowingBytes codes_;
  const uint8_t* view_ = nullptr;
};

// The codecs. Each factory returns an empty set; quantizers need train() before add().
std::unique_ptr<VectorSet> make_float_set(size_t dim, Metric metric);
// Originals in Qdrant's narrower datatypes: float16 (rounded to nearest, saturated at +-65504)
// and uint8 (truncated toward zero and saturated to 0..255, as Rust's `as u8`). Queries stay
// float32 but are rounded the same way before scoring, as Qdrant scores them.
std::unique_ptr<VectorSet> make_float16_set(size_t dim, Metric metric);
std::unique_ptr<VectorSet> make_uint8_set(size_t dim, Metric metric);
std::unique_ptr<VectorSet> make_scalar_set(size_t dim, Metric metric, float quantile);

enum class BinaryEncoding { one_bit, one_and_half_bits, two_bits };
enum class QueryEncoding { binary, scalar4bits, scalar8bits };
// `center` is subtracted from rows and queries before their signs are taken, instead of the
// cosine normalisation (127 over uint8 originals, as Qdrant does; 0: none).
std::unique_ptr<VectorSet> make_binary_set(size_t dim, Metric metric, BinaryEncoding encoding,
                                           QueryEncoding query_encoding, float center = 0.f);

// TurboQuant (turbo_set.cpp): a randomized Hadamard rotation, per-coordinate grids fitted to
// the rotated data and a per-vector correction; 1, 1.5, 2 or 4 bits a dimension.
enum class TurboBits { bits1, bits1_5, bits2, bits4 };
std::unique_ptr<VectorSet> make_turbo_set(size_t dim, Metric metric, TurboBits bits);
// Originals in Qdrant's `turbo4` datatype: 4 bits a dimension on a fixed grid scaled per
// vector, untrained; scores and decode() are those of the dequantized vector.
std::unique_ptr<VectorSet> make_turbo4_set(size_t dim, Metric metric);

struct ProductOptions {
  size_t sub_dim = 4;          // dimensions per sub-vector: compression x(4 * sub_dim)
  size_t sample = 16384;       // training rows drawn from what train() is given
  size_t iterations = 12;      // k-means rounds
  uint64_t seed = 42;
  size_t threads = 0;          // 0: all cores
};
std::unique_ptr<VectorSet> make_product_set(size_t dim, Metric metric, const ProductOptions& options);

// Multivectors (ColBERT-style late interaction): member i is a group of rows, any number of at
// least one, stored as one flat set of rows in any codec (`rows`) plus offsets (group i is
// rows [offsets[i], offsets[i + 1])). A query is a group of rows too, and scores by MaxSim:
// the sum over query rows of the best score of that row against the member's rows, in the
// rows' own scores (dot, cosine, negated L2 or L1; quantized where `rows` is). The graph and
// the plain scan see one member per point, as with any other set.
class MultiVectorSet final : public VectorSet {
 public:
  explicit MultiVectorSet(std::shared_ptr<VectorSet> rows);

  bool multi() const override { return true; }
  size_t code_bytes() const override { return rows_->code_bytes(); }  // per row
  bool trained() const override { return rows_->trained(); }
  bool scores_members() const override { return rows_->scores_members(); }
  size_t memory_bytes() const override;
  void train(const float* x, size_t n) override { rows_->train(x, n); }

  // Appends n groups: group i is rows [offsets[i] - offsets[0], offsets[i + 1] - offsets[0])
  // of x. Returns the offset of the first group.
  uint32_t add_groups(const float* x, const int64_t* offsets, size_t n);
  const VectorSet& rows() const { return *rows_; }
  uint64_t first_row(uint32_t id) const { return offsets()[id]; }
  uint64_t row_count(uint32_t id) const { return offsets()[id + 1] - offsets()[id]; }
  const uint64_t* offsets() const { return offsets_.data(); }

  std::unique_ptr<QueryScorer> scorer(const float* query) const override;
  std::unique_ptr<QueryScorer> multi_scorer(const float* query, size_t rows) const override;
  std::unique_ptr<QueryScorer> member_scorer(uint32_t id) const override;
  float score_pair(uint32_t a, uint32_t b) const override;
  // MaxSim is no distance (nor symmetric): the graph keeps the paper's rule.
  float nearer_bar(float score, float slack) const override;

  void encode(const float* x, size_t n, uint8_t* codes) const override;
  void decode(const uint8_t* codes, size_t n, float* x) const override;

  // The rows' codec parameters plus "offsets" (uint64, size() + 1); state() adds the rows'
  // "codes". view() views the rows' codes (load_state() the offsets first).
  State params() const override;
  State state() const override;
  void load_state(const State& state) override;
  void view(const uint8_t* codes, size_t rows) override;

 private:
  std::shared_ptr<VectorSet> rows_;
  std::vector<uint64_t> offsets_{0};
};


}  // namespace vqdb
