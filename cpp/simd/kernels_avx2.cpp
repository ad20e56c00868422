// AVX2 + FMA + F16C kernels (Haswell and later). Compiled with -mavx2 -mfma -mf16c -mpopcnt
// -mbmi2 only.
#include <immintrin.h>

#include <cmath>
#include <cstdlib>

#include "simd/kernels.h"

namespace vqdb::simd {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

float dot_f32_avx2(const float* a, const float* b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= dim; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < dim; ++i) s += a[i] * b[i];
  return s;
}

float l2_f32_avx2(const float* a, const float* b, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  for (; i + 8 <= dim; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d, d, s0);
  }
  float s = hsum(_mm256_add_ps(s0, s1));
  for (; i < dim; ++i) {
    const float d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

float l1_f32_avx2(const float* a, const float* b, size_t dim) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d0));
    s1 = _mm256_add_ps(s1, _mm256_andnot_ps(sign, d1));
  }
  for (; i + 8 <= dim; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_add_ps(s0, _mm256_andnot_ps(sign, d));
  }
  float s = hsum(_mm256_add_ps(s0, s1));
  for (; i < dim; ++i) s += std::fabs(a[i] - b[i]);
  return s;
}

template <bool kL2>
void four_f32_avx2(const float* q, const float* const* rows, size_t dim, float* out) {
  const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    const __m256 qv = _mm256_loadu_ps(q + i);
    __m256 a0 = _mm256_loadu_ps(r0 + i), a1 = _mm256_loadu_ps(r1 + i);
    __m256 a2 = _mm256_loadu_ps(r2 + i), a3 = _mm256_loadu_ps(r3 + i);
    if (kL2) {
      a0 = _mm256_sub_ps(a0, qv), a1 = _mm256_sub_ps(a1, qv);
      a2 = _mm256_sub_ps(a2, qv), a3 = _mm256_sub_ps(a3, qv);
      s0 = _mm256_fmadd_ps(a0, a0, s0), s1 = _mm256_fmadd_ps(a1, a1, s1);
      s2 = _mm256_fmadd_ps(a2, a2, s2), s3 = _mm256_fmadd_ps(a3, a3, s3);
    } else {
      s0 = _mm256_fmadd_ps(a0, qv, s0), s1 = _mm256_fmadd_ps(a1, qv, s1);
      s2 = _mm256_fmadd_ps(a2, qv, s2), s3 = _mm256_fmadd_ps(a3, qv, s3);
    }
  }
  out[0] = hsum(s0), out[1] = hsum(s1), out[2] = hsum(s2), out[3] = hsum(s3);
  for (; i < dim; ++i)
    for (int r = 0; r < 4; ++r) {
      const float v = rows[r][i];
      out[r] += kL2 ? (v - q[i]) * (v - q[i]) : v * q[i];
    }
}

int32_t dot_u8_avx2(const uint8_t* a, const uint8_t* b, size_t dim) {
  // maddubs multiplies unsigned a by signed b; codes <= 127 keep pair sums below 2^15.
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(va, vb), ones));
  }
  int32_t s = hsum_epi32(acc);
  for (; i < dim; ++i) s += int32_t(a[i]) * int32_t(b[i]);
  return s;
}

void dot4_u8_avx2(const uint8_t* q, const uint8_t* const* rows, size_t dim, int32_t* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i s[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                  _mm256_setzero_si256()};
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    const __m256i qv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
    for (int r = 0; r < 4; ++r) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[r] + i));
      s[r] = _mm256_add_epi32(s[r], _mm256_madd_epi16(_mm256_maddubs_epi16(v, qv), ones));
    }
  }
  for (int r = 0; r < 4; ++r) {
    int32_t t = hsum_epi32(s[r]);
    for (size_t j = i; j < dim; ++j) t += int32_t(q[j]) * int32_t(rows[r][j]);
    out[r] = t;
  }
}

void dot4_s8u8_avx2(const int8_t* q, const uint8_t* const* rows, size_t dim, int32_t* out) {
  // vpmaddubsw: unsigned codes <= 127 times signed query bytes, pairs within int16.
  dot4_u8_avx2(reinterpret_cast<const uint8_t*>(q), rows, dim, out);
  for (int r = 0; r < 4; ++r)  // the kernel's scalar tail read q as unsigned: redo it signed
    for (size_t j = dim - dim % 32; j < dim; ++j)
      out[r] += (int32_t(q[j]) - int32_t(uint8_t(q[j]))) * int32_t(rows[r][j]);
}

int32_t dot_s8u8_avx2(const int8_t* q, const uint8_t* row, size_t dim) {
  // vpmaddubsw takes the row as the unsigned operand and the query as the signed one.
  int32_t s = dot_u8_avx2(row, reinterpret_cast<const uint8_t*>(q), dim);
  for (size_t j = dim - dim % 32; j < dim; ++j)  // the scalar tail read q as unsigned
    s += (int32_t(q[j]) - int32_t(uint8_t(q[j]))) * int32_t(row[j]);
  return s;
}

int32_t l2_u8_avx2(const uint8_t* a, const uint8_t* b, size_t dim) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const __m256i va =
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m256i vb =
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    const __m256i d = _mm256_sub_epi16(va, vb);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
  }
  int32_t s = hsum_epi32(acc);
  for (; i < dim; ++i) {
    const int32_t d = int32_t(a[i]) - int32_t(b[i]);
    s += d * d;
  }
  return s;
}

int32_t l1_u8_avx2(const uint8_t* a, const uint8_t* b, size_t dim) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(va, vb));
  }
  alignas(32) int64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
  int32_t s = int32_t(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
  for (; i < dim; ++i) s += std::abs(int32_t(a[i]) - int32_t(b[i]));
  return s;
}

// Scalar popcnt beats a pshufb popcount for the short codes vqdb stores (a few dozen words).
uint32_t hamming_b1_avx2(const uint64_t* a, const uint64_t* b, size_t words) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= words; i += 4) {
    s0 += uint64_t(_mm_popcnt_u64(a[i] ^ b[i]));
    s1 += uint64_t(_mm_popcnt_u64(a[i + 1] ^ b[i + 1]));
    s2 += uint64_t(_mm_popcnt_u64(a[i + 2] ^ b[i + 2]));
    s3 += uint64_t(_mm_popcnt_u64(a[i + 3] ^ b[i + 3]));
  }
  for (; i < words; ++i) s0 += uint64_t(_mm_popcnt_u64(a[i] ^ b[i]));
  return uint32_t(s0 + s1 + s2 + s3);
}

void hamming_b1_rows_avx2(const uint64_t* query, const uint64_t* rows, size_t n, size_t words,
                          uint32_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = hamming_b1_avx2(query, rows + i * words, words);
}

uint32_t andpop_b1_avx2(const uint64_t* planes, size_t n_planes, const uint64_t* x,
                        size_t words) {
  uint64_t s = 0;
  for (size_t i = 0; i < words; ++i) {
    const uint64_t xi = x[i];
    for (size_t p = 0; p < n_planes; ++p)
      s += uint64_t(_mm_popcnt_u64(planes[p * words + i] & xi)) << p;
  }
  return uint32_t(s);
}

// Hardware popcnt per word, as hamming_b1_avx2; the plane weights are shifts of two sums.
int64_t turbo_planes_avx2(const uint64_t* query, const uint64_t* x, size_t n_planes,
                          size_t words, size_t words1) {
  uint64_t pos = 0, neg = 0;
  for (size_t i = 0; i < words; ++i) {
    uint64_t q[8];
    for (size_t t = 0; t < 8; ++t) q[t] = query[t * words + i];
    for (size_t p = 0; p < (i < words1 ? n_planes : 1); ++p) {
      const uint64_t xp = p == 0 ? x[i] : x[words + (p - 1) * words1 + i];
      for (size_t t = 0; t < 7; ++t) pos += uint64_t(_mm_popcnt_u64(q[t] & xp)) << (p + t);
      neg += uint64_t(_mm_popcnt_u64(q[7] & xp)) << (p + 7);
    }
  }
  return int64_t(pos) - int64_t(neg);
}

void turbo_pair_avx2(const uint64_t* a, const uint64_t* b, size_t n_planes, size_t words,
                     int64_t* out) {
  uint64_t kk = 0, ka = 0, kb = 0;
  for (size_t i = 0; i < words; ++i) {
    for (size_t p = 0; p < n_planes; ++p) {
      const uint64_t ap = a[p * words + i];
      ka += uint64_t(_mm_popcnt_u64(ap)) << p;
      kb += uint64_t(_mm_popcnt_u64(b[p * words + i])) << p;
      for (size_t q = 0; q < n_planes; ++q)
        kk += uint64_t(_mm_popcnt_u64(ap & b[q * words + i])) << (p + q);
    }
  }
  out[0] = int64_t(kk);
  out[1] = int64_t(ka);
  out[2] = int64_t(kb);
}

void turbo_pair15_avx2(const uint64_t* a, const uint64_t* b, size_t words, size_t words1,
                       const uint64_t* mask1, int64_t* out) {
  uint64_t kk1 = 0, s1 = 0, kk0 = 0, s0 = 0;
  for (size_t i = 0; i < words; ++i) {
    const uint64_t a0 = a[i], b0 = b[i], both = a0 & b0;
    const uint64_t m = i < words1 ? mask1[i] : 0, a1 = i < words1 ? a[words + i] : 0,
                   b1 = i < words1 ? b[words + i] : 0;
    kk1 += uint64_t(_mm_popcnt_u64(both & m) + 2 * (_mm_popcnt_u64(a0 & b1) + _mm_popcnt_u64(a1 & b0)) + 4 * _mm_popcnt_u64(a1 & b1));
    s1 += uint64_t(_mm_popcnt_u64(a0 & m) + _mm_popcnt_u64(b0 & m) + 2 * (_mm_popcnt_u64(a1) + _mm_popcnt_u64(b1)));
    kk0 += uint64_t(_mm_popcnt_u64(both & ~m));
    s0 += uint64_t(_mm_popcnt_u64(a0 & ~m) + _mm_popcnt_u64(b0 & ~m));
  }
  out[0] = int64_t(kk1);
  out[1] = int64_t(s1);
  out[2] = int64_t(kk0);
  out[3] = int64_t(s0);
}

// 32 bytes (64 coordinates) a step. vpmaddubsw's int16 pair sums cannot saturate (15 * 128 * 2
// per lane, twice), so the low and high nibbles share one widening to int32.
int32_t turbo_nibbles_avx2(const int8_t* query, const uint8_t* x, size_t bytes) {
  const __m256i low = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32) {
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i lo = _mm256_and_si256(xv, low);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(xv, 4), low);
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query + i));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(query + bytes + i));
    const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(lo, ql), _mm256_maddubs_epi16(hi, qh));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
  }
  int32_t s = hsum_epi32(acc);
  for (; i < bytes; ++i)
    s += int32_t(query[i]) * (x[i] & 15) + int32_t(query[bytes + i]) * (x[i] >> 4);
  return s;
}

void turbo_nibble_pair_avx2(const uint8_t* a, const uint8_t* b, size_t bytes, int32_t* out) {
  const __m256i low = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1), zero = _mm256_setzero_si256();
  __m256i kk = zero, ka = zero, kb = zero;
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32) {
    const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i bv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    const __m256i al = _mm256_and_si256(av, low), ah = _mm256_and_si256(_mm256_srli_epi16(av, 4), low);
    const __m256i bl = _mm256_and_si256(bv, low), bh = _mm256_and_si256(_mm256_srli_epi16(bv, 4), low);
    const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(al, bl), _mm256_maddubs_epi16(ah, bh));
    kk = _mm256_add_epi32(kk, _mm256_madd_epi16(pairs, ones));
    ka = _mm256_add_epi64(ka, _mm256_sad_epu8(_mm256_add_epi8(al, ah), zero));
    kb = _mm256_add_epi64(kb, _mm256_sad_epu8(_mm256_add_epi8(bl, bh), zero));
  }
  // vpsadbw leaves each count in the low half of a 64-bit lane, the high half zero.
  int32_t skk = hsum_epi32(kk), ska = hsum_epi32(ka), skb = hsum_epi32(kb);
  for (; i < bytes; ++i) {
    skk += (a[i] & 15) * (b[i] & 15) + (a[i] >> 4) * (b[i] >> 4);
    ska += (a[i] & 15) + (a[i] >> 4);
    skb += (b[i] & 15) + (b[i] >> 4);
  }
  out[0] = skk;
  out[1] = ska;
  out[2] = skb;
}

void pq_assign_avx2(const float* x, size_t n, size_t stride, size_t w, const float* centroids_t,
                    uint8_t* codes, float* dists) {
  // 64 centroids per pass keep 8 accumulators in registers; per centroid the sum runs over j in
  // order with separate multiply and add, exactly as the serial kernel does.
  for (size_t i = 0; i < n; ++i) {
    const float* row = x + i * stride;
    __m256 best = _mm256_set1_ps(INFINITY);
    __m256i best_idx = _mm256_setzero_si256();
    for (int block = 0; block < 256; block += 64) {
      __m256 acc[8];
      for (int k = 0; k < 8; ++k) acc[k] = _mm256_setzero_ps();
      for (size_t j = 0; j < w; ++j) {
        const __m256 xj = _mm256_set1_ps(row[j]);
        const float* c = centroids_t + j * 256 + block;
        for (int k = 0; k < 8; ++k) {
          const __m256 d = _mm256_sub_ps(xj, _mm256_loadu_ps(c + 8 * k));
          acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(d, d));
        }
      }
      for (int k = 0; k < 8; ++k) {
        const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(block + 8 * k),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 lt = _mm256_cmp_ps(acc[k], best, _CMP_LT_OQ);
        best = _mm256_blendv_ps(best, acc[k], lt);
        best_idx = _mm256_castps_si256(
            _mm256_blendv_ps(_mm256_castsi256_ps(best_idx), _mm256_castsi256_ps(idx), lt));
      }
    }
    alignas(32) float bv[8];
    alignas(32) int32_t bi[8];
    _mm256_store_ps(bv, best);
    _mm256_store_si256(reinterpret_cast<__m256i*>(bi), best_idx);
    int lane = 0;
    for (int k = 1; k < 8; ++k)
      if (bv[k] < bv[lane] || (bv[k] == bv[lane] && bi[k] < bi[lane])) lane = k;
    codes[i] = uint8_t(bi[lane]);
    if (dists) dists[i] = bv[lane];
  }
}

// Narrow originals (float16 bits, uint8 values) widened to 8 floats at a time: F16C's vcvtph2ps
// and vpmovzxbd + vcvtdq2ps. Tails are copied into a zeroed block (zeros add nothing).
struct Half8 {
  static __m256 load(const uint16_t* x) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
  }
};

struct Byte8 {
  static __m256 load(const uint8_t* x) {
    return _mm256_cvtepi32_ps(
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x))));
  }
};

template <int kOp>
inline __m256 wide_step(__m256 acc, __m256 q, __m256 x) {
  if (kOp == 0) return _mm256_fmadd_ps(q, x, acc);
  const __m256 d = _mm256_sub_ps(q, x);
  if (kOp == 1) return _mm256_fmadd_ps(d, d, acc);
  return _mm256_add_ps(acc, _mm256_andnot_ps(_mm256_set1_ps(-0.f), d));
}

template <int kOp, class L, class T>
float wide_avx2(const float* q, const T* x, size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    s0 = wide_step<kOp>(s0, _mm256_loadu_ps(q + i), L::load(x + i));
    s1 = wide_step<kOp>(s1, _mm256_loadu_ps(q + i + 8), L::load(x + i + 8));
  }
  for (; i + 8 <= dim; i += 8) s0 = wide_step<kOp>(s0, _mm256_loadu_ps(q + i), L::load(x + i));
  if (i < dim) {
    alignas(32) float qt[8] = {};
    alignas(32) T xt[8] = {};
    for (size_t j = 0; i + j < dim; ++j) qt[j] = q[i + j], xt[j] = x[i + j];
    s1 = wide_step<kOp>(s1, _mm256_load_ps(qt), L::load(xt));
  }
  return hsum(_mm256_add_ps(s0, s1));
}

float cos_u8f32_avx2(const float* q, const uint8_t* x, size_t dim) {
  __m256 dot = _mm256_setzero_ps(), norm = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    const __m256 v = Byte8::load(x + i);
    dot = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), v, dot);
    norm = _mm256_fmadd_ps(v, v, norm);
  }
  if (i < dim) {
    alignas(32) float qt[8] = {};
    alignas(32) uint8_t xt[8] = {};
    for (size_t j = 0; i + j < dim; ++j) qt[j] = q[i + j], xt[j] = x[i + j];
    const __m256 v = Byte8::load(xt);
    dot = _mm256_fmadd_ps(_mm256_load_ps(qt), v, dot);
    norm = _mm256_fmadd_ps(v, v, norm);
  }
  const float n = hsum(norm);
  return n > 0.f ? hsum(dot) / std::sqrt(n) : 0.f;
}

}  // namespace

const Kernels kAvx2 = {dot_f32_avx2,    l2_f32_avx2,          l1_f32_avx2,
                       four_f32_avx2<false>, four_f32_avx2<true>,
                       dot_u8_avx2,     dot4_u8_avx2,         dot4_s8u8_avx2,        dot_s8u8_avx2,
                       l2_u8_avx2,
                       l1_u8_avx2,
                       hamming_b1_avx2, hamming_b1_rows_avx2, andpop_b1_avx2, turbo_planes_avx2, turbo_pair_avx2, turbo_pair15_avx2,
                       turbo_nibbles_avx2, turbo_nibble_pair_avx2,
                       pq_assign_avx2,
                       wide_avx2<0, Half8, uint16_t>, wide_avx2<1, Half8, uint16_t>,
                       wide_avx2<2, Half8, uint16_t>,
                       wide_avx2<0, Byte8, uint8_t>, wide_avx2<1, Byte8, uint8_t>,
                       wide_avx2<2, Byte8, uint8_t>,
                       cos_u8f32_avx2};

}  // namespace vqdb::simd
