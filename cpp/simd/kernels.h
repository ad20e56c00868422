// Distance kernels, one table per instruction set, chosen once at import.
//
// Every kernel exists as <metric>_<dtype>_<isa> (dot_f32_avx512, hamming_b1_serial, ...). The
// serial versions are the reference the SIMD ones are tested against; all of them compute in
// the same order where the result must be bit-identical across ISAs (pq_assign).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vqdb::simd {

enum class Level : int { serial = 0, avx2 = 1, avx512 = 2 };

struct Kernels {
  // float32: dot product, squared L2, L1.
  float (*dot_f32)(const float* a, const float* b, size_t dim);
  float (*l2_f32)(const float* a, const float* b, size_t dim);
  float (*l1_f32)(const float* a, const float* b, size_t dim);
  // Four rows against one query at once: out[r] = dot(q, rows[r]) / squared L2. Interleaving
  // four rows keeps four independent memory streams in flight during a graph walk.
  void (*dot4_f32)(const float* q, const float* const* rows, size_t dim, float* out);
  void (*l24_f32)(const float* q, const float* const* rows, size_t dim, float* out);
  // uint8 scalar codes; values must be <= 127 so that u8 x s8 multiply-adds cannot saturate.
  int32_t (*dot_u8)(const uint8_t* a, const uint8_t* b, size_t dim);
  // Four code rows against one query code at once (graph walks over scalar codes).
  void (*dot4_u8)(const uint8_t* q, const uint8_t* const* rows, size_t dim, int32_t* out);
  // Asymmetric scalar scoring: a signed int8 query (its own scale) against four code rows
  // (values <= 127; u8 x s8 multiply-adds cannot saturate): out[r] = sum_j q[j] * rows[r][j].
  void (*dot4_s8u8)(const int8_t* q, const uint8_t* const* rows, size_t dim, int32_t* out);
  // The same for one row: the plain scan's form. Four consecutive rows at once ran the scan 4x
  // slower than one (measured on Zen 4): the interleaving only pays for scattered rows.
  int32_t (*dot_s8u8)(const int8_t* q, const uint8_t* row, size_t dim);
  int32_t (*l2_u8)(const uint8_t* a, const uint8_t* b, size_t dim);
  int32_t (*l1_u8)(const uint8_t* a, const uint8_t* b, size_t dim);
  // Bit strings of `words` 64-bit words: popcount(a ^ b).
  uint32_t (*hamming_b1)(const uint64_t* a, const uint64_t* b, size_t words);
  // The plain scan's form: out[i] = hamming(query, rows + i * words) for n consecutive rows.
  void (*hamming_b1_rows)(const uint64_t* query, const uint64_t* rows, size_t n, size_t words,
                          uint32_t* out);
  // Asymmetric binary: sum over p of 2^p * popcount(planes[p] & x), the dot product of a query
  // quantized to n_planes <= 8 bits (bit plane p stored at planes + p * words) with bits x.
  uint32_t (*andpop_b1)(const uint64_t* planes, size_t n_planes, const uint64_t* x, size_t words);
  // TurboQuant's asymmetric dot: a query of signed 8-bit integers as 8 bit planes (two's
  // complement: plane t at query + t * words weighs 2^t, plane 7 weighs -128) against
  // n_planes code planes (plane p weighs 2^p): plane 0 at x, `words` words, then the others,
  // `words1` <= words each (bits1_5's plane 1 covers only the first half of the coordinates):
  // sum over p, t of weight_p * weight_t * popcount(query_t & x_p) = sum_j q_j k_j.
  int64_t (*turbo_planes)(const uint64_t* query, const uint64_t* x, size_t n_planes, size_t words,
                          size_t words1);
  // TurboQuant's stored-vs-stored products (graph builds): for codes a and b of n_planes planes
  // (plane p at a + p * words, `words` words each), out[0] = sum_j k_a,j k_b,j,
  // out[1] = sum_j k_a,j, out[2] = sum_j k_b,j.
  void (*turbo_pair)(const uint64_t* a, const uint64_t* b, size_t n_planes, size_t words,
                     int64_t* out);
  // turbo_pair for bits1_5 codes in one pass (two turbo_pair calls, one per segment, were a
  // tenth of a graph build): plane 0 of `words` words, then plane 1 of `words1` words, zero
  // beyond the coordinates it covers, which `mask1` marks in plane 0's first words1 words.
  // out[0] = sum k_a,j k_b,j and out[1] = sum (k_a,j + k_b,j) over the covered coordinates
  // (4 levels), out[2] and out[3] the same over the rest (2 levels).
  void (*turbo_pair15)(const uint64_t* a, const uint64_t* b, size_t words, size_t words1,
                       const uint64_t* mask1, int64_t* out);
  // TurboQuant at 4 bits: codes are nibbles (byte i holds k_2i in its low nibble, k_2i+1 in
  // its high one), so a multiply-add per byte replaces 32 plane popcounts per word. The signed
  // 8-bit query is split the same way: query[i] multiplies the low nibble of x[i],
  // query[bytes + i] the high one; the result is sum_j q_j k_j.
  int32_t (*turbo_nibbles)(const int8_t* query, const uint8_t* x, size_t bytes);
  // Stored against stored (graph builds): out[0] = sum_j k_a,j k_b,j, out[1] = sum_j k_a,j,
  // out[2] = sum_j k_b,j over two nibble codes of `bytes` bytes.
  void (*turbo_nibble_pair)(const uint8_t* a, const uint8_t* b, size_t bytes, int32_t* out);
  // Product quantization, encoding: for each of n rows (width w <= 16, `stride` floats apart),
  // the nearest of 256 centroids given transposed (centroids_t[j * 256 + c]); ties go to the
  // lower index. dists (optional) receives the squared distance to it.
  void (*pq_assign)(const float* x, size_t n, size_t stride, size_t w, const float* centroids_t,
                    uint8_t* codes, float* dists);
  // Originals stored narrower than float32 (Qdrant's `datatype`), against a float32 query:
  // float16 as IEEE binary16 bits, uint8 as the integers 0..255 (not the 7-bit scalar codes
  // above: the query is float, so no integer multiply-add can saturate).
  float (*dot_f16)(const float* q, const uint16_t* x, size_t dim);
  float (*l2_f16)(const float* q, const uint16_t* x, size_t dim);
  float (*l1_f16)(const float* q, const uint16_t* x, size_t dim);
  float (*dot_u8f32)(const float* q, const uint8_t* x, size_t dim);
  float (*l2_u8f32)(const float* q, const uint8_t* x, size_t dim);
  float (*l1_u8f32)(const float* q, const uint8_t* x, size_t dim);
  // Cosine over uint8 originals, which stay unnormalised (Qdrant's rule): dot(q, x) / |x| in one
  // pass, 0 when x is all zeros. The caller divides by the query's norm.
  float (*cos_u8f32)(const float* q, const uint8_t* x, size_t dim);
};

const Kernels& active();
Level level();
Level max_level();
// Selects a level at or below max_level(); tests use it to check every ISA on one machine.
void set_level(Level level);
const char* level_name(Level level);
Level parse_level(const std::string& name);

// Product quantization, asymmetric distance: sum over m of table[m * 256 + codes[m]], over a
// uint8 table (ProductScorer says why). Lookups are load-bound and scalar loads beat vpgatherdd
// here (measured on Zen 4, float and uint8 tables alike), so there is one unrolled kernel for
// every ISA rather than a dispatch slot. Inline: a walk calls it once per neighbour, and four
// independent sums keep several loads in flight.
inline uint32_t adc_pq_u8(const uint8_t* table, const uint8_t* codes, size_t n_sub) {
  uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t m = 0;
  for (; m + 4 <= n_sub; m += 4) {
    s0 += table[m * 256 + codes[m]];
    s1 += table[(m + 1) * 256 + codes[m + 1]];
    s2 += table[(m + 2) * 256 + codes[m + 2]];
    s3 += table[(m + 3) * 256 + codes[m + 3]];
  }
  for (; m < n_sub; ++m) s0 += table[m * 256 + codes[m]];
  return (s0 + s1) + (s2 + s3);
}

// One table per ISA, defined in kernels_<isa>.cpp.
extern const Kernels kSerial;
#if defined(VQDB_X86)
extern const Kernels kAvx2;
extern const Kernels kAvx512;
#endif

}  // namespace vqdb::simd
