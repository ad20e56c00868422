// AVX-512 kernels (F, BW, VL, DQ, VNNI, VPOPCNTDQ: Ice Lake, Zen 4 and later). Tails use masked
// loads, so no kernel falls back to a scalar loop.
#include <immintrin.h>

#include <cmath>

#include "simd/kernels.h"

namespace vqdb::simd {
namespace {

inline __mmask16 tail16(size_t n) { return __mmask16((1u << n) - 1u); }
inline __mmask64 tail64(size_t n) { return n >= 64 ? ~__mmask64(0) : (__mmask64(1) << n) - 1; }
inline __mmask8 tail8(size_t n) { return __mmask8((1u << n) - 1u); }

float dot_f32_avx512(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= dim; i += 16)
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < dim) {
    const __mmask16 m = tail16(dim - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float l2_f32_avx512(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
  }
  for (; i < dim; i += 16) {
    const __mmask16 m = tail16(dim - i < 16 ? dim - i : 16);
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

float l1_f32_avx512(const float* a, const float* b, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))));
    s1 = _mm512_add_ps(
        s1, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16))));
  }
  for (; i < dim; i += 16) {
    const __mmask16 m = tail16(dim - i < 16 ? dim - i : 16);
    s0 = _mm512_add_ps(
        s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i))));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

template <bool kL2>
void four_f32_avx512(const float* q, const float* const* rows, size_t dim, float* out) {
  const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  for (size_t i = 0; i < dim; i += 16) {
    const __mmask16 m = tail16(dim - i < 16 ? dim - i : 16);
    const __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
    __m512 a0 = _mm512_maskz_loadu_ps(m, r0 + i), a1 = _mm512_maskz_loadu_ps(m, r1 + i);
    __m512 a2 = _mm512_maskz_loadu_ps(m, r2 + i), a3 = _mm512_maskz_loadu_ps(m, r3 + i);
    if (kL2) {
      a0 = _mm512_sub_ps(a0, qv), a1 = _mm512_sub_ps(a1, qv);
      a2 = _mm512_sub_ps(a2, qv), a3 = _mm512_sub_ps(a3, qv);
      s0 = _mm512_fmadd_ps(a0, a0, s0), s1 = _mm512_fmadd_ps(a1, a1, s1);
      s2 = _mm512_fmadd_ps(a2, a2, s2), s3 = _mm512_fmadd_ps(a3, a3, s3);
    } else {
      s0 = _mm512_fmadd_ps(a0, qv, s0), s1 = _mm512_fmadd_ps(a1, qv, s1);
      s2 = _mm512_fmadd_ps(a2, qv, s2), s3 = _mm512_fmadd_ps(a3, qv, s3);
    }
  }
  out[0] = _mm512_reduce_add_ps(s0), out[1] = _mm512_reduce_add_ps(s1);
  out[2] = _mm512_reduce_add_ps(s2), out[3] = _mm512_reduce_add_ps(s3);
}

int32_t dot_u8_avx512(const uint8_t* a, const uint8_t* b, size_t dim) {
  // vpdpbusd: unsigned a times signed b, summed by four into int32; codes <= 127 are exact.
  __m512i acc = _mm512_setzero_si512();
  for (size_t i = 0; i < dim; i += 64) {
    const __mmask64 m = tail64(dim - i);
    acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, a + i), _mm512_maskz_loadu_epi8(m, b + i));
  }
  return _mm512_reduce_add_epi32(acc);
}

void dot4_u8_avx512(const uint8_t* q, const uint8_t* const* rows, size_t dim, int32_t* out) {
  __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
  __m512i s2 = _mm512_setzero_si512(), s3 = _mm512_setzero_si512();
  for (size_t i = 0; i < dim; i += 64) {
    const __mmask64 m = tail64(dim - i);
    const __m512i qv = _mm512_maskz_loadu_epi8(m, q + i);
    s0 = _mm512_dpbusd_epi32(s0, _mm512_maskz_loadu_epi8(m, rows[0] + i), qv);
    s1 = _mm512_dpbusd_epi32(s1, _mm512_maskz_loadu_epi8(m, rows[1] + i), qv);
    s2 = _mm512_dpbusd_epi32(s2, _mm512_maskz_loadu_epi8(m, rows[2] + i), qv);
    s3 = _mm512_dpbusd_epi32(s3, _mm512_maskz_loadu_epi8(m, rows[3] + i), qv);
  }
  out[0] = _mm512_reduce_add_epi32(s0), out[1] = _mm512_reduce_add_epi32(s1);
  out[2] = _mm512_reduce_add_epi32(s2), out[3] = _mm512_reduce_add_epi32(s3);
}

void dot4_s8u8_avx512(const int8_t* q, const uint8_t* const* rows, size_t dim, int32_t* out) {
  // vpdpbusd multiplies unsigned codes by signed query bytes: the u8 kernel already is this one.
  dot4_u8_avx512(reinterpret_cast<const uint8_t*>(q), rows, dim, out);
}

int32_t dot_s8u8_avx512(const int8_t* q, const uint8_t* row, size_t dim) {
  return dot_u8_avx512(row, reinterpret_cast<const uint8_t*>(q), dim);  // vpdpbusd: row unsigned
}

int32_t l2_u8_avx512(const uint8_t* a, const uint8_t* b, size_t dim) {
  __m512i acc = _mm512_setzero_si512();
  for (size_t i = 0; i < dim; i += 32) {
    const __mmask32 m = __mmask32(tail64(dim - i < 32 ? dim - i : 32));
    const __m512i va = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
    const __m512i vb = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
    const __m512i d = _mm512_sub_epi16(va, vb);
    acc = _mm512_dpwssd_epi32(acc, d, d);
  }
  return _mm512_reduce_add_epi32(acc);
}

int32_t l1_u8_avx512(const uint8_t* a, const uint8_t* b, size_t dim) {
  __m512i acc = _mm512_setzero_si512();
  for (size_t i = 0; i < dim; i += 64) {
    const __mmask64 m = tail64(dim - i);
    acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, a + i),
                                                _mm512_maskz_loadu_epi8(m, b + i)));
  }
  return int32_t(_mm512_reduce_add_epi64(acc));
}

uint32_t hamming_b1_avx512(const uint64_t* a, const uint64_t* b, size_t words) {
  __m512i acc = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 8 <= words; i += 8)
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i),
                                                                      _mm512_loadu_si512(b + i))));
  if (i < words) {
    const __mmask8 m = tail8(words - i);
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(
                                    _mm512_maskz_loadu_epi64(m, a + i), _mm512_maskz_loadu_epi64(m, b + i))));
  }
  return uint32_t(_mm512_reduce_add_epi64(acc));
}

// The query stays in registers; codes of up to 1024 bits take two (masked) loads per row.
void hamming_b1_rows_avx512(const uint64_t* query, const uint64_t* rows, size_t n, size_t words,
                            uint32_t* out) {
  if (words > 16) {
    for (size_t i = 0; i < n; ++i) out[i] = hamming_b1_avx512(query, rows + i * words, words);
    return;
  }
  const __mmask8 m0 = tail8(words < 8 ? words : 8);
  const __mmask8 m1 = tail8(words > 8 ? words - 8 : 0);
  const __m512i q0 = _mm512_maskz_loadu_epi64(m0, query);
  const __m512i q1 = _mm512_maskz_loadu_epi64(m1, query + 8);
  auto counts = [&](const uint64_t* r) {
    __m512i c = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(m0, r), q0));
    if (m1)
      c = _mm512_add_epi64(
          c, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(m1, r + 8), q1)));
    return c;
  };
  // A row's count is at most 1024, so four rows share one reduction in 16-bit fields.
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint64_t* r = rows + i * words;
    const __m512i packed = _mm512_or_si512(
        _mm512_or_si512(counts(r), _mm512_slli_epi64(counts(r + words), 16)),
        _mm512_or_si512(_mm512_slli_epi64(counts(r + 2 * words), 32),
                        _mm512_slli_epi64(counts(r + 3 * words), 48)));
    const uint64_t s = uint64_t(_mm512_reduce_add_epi64(packed));
    out[i] = uint32_t(s & 0xffff);
    out[i + 1] = uint32_t((s >> 16) & 0xffff);
    out[i + 2] = uint32_t((s >> 32) & 0xffff);
    out[i + 3] = uint32_t(s >> 48);
  }
  for (; i < n; ++i) out[i] = uint32_t(_mm512_reduce_add_epi64(counts(rows + i * words)));
}

// The plane weights are applied in the vector accumulator, so each vector needs one reduction.
uint32_t andpop_b1_avx512(const uint64_t* planes, size_t n_planes, const uint64_t* x,
                          size_t words) {
  __m512i acc = _mm512_setzero_si512();
  for (size_t i = 0; i < words; i += 8) {
    const __mmask8 m = tail8(words - i < 8 ? words - i : 8);
    const __m512i xv = _mm512_maskz_loadu_epi64(m, x + i);
    for (size_t p = 0; p < n_planes; ++p) {
      const __m512i qv = _mm512_maskz_loadu_epi64(m, planes + p * words + i);
      const __m512i c = _mm512_popcnt_epi64(_mm512_and_si512(qv, xv));
      acc = _mm512_add_epi64(acc, _mm512_sll_epi64(c, _mm_cvtsi32_si128(int(p))));
    }
  }
  return uint32_t(_mm512_reduce_add_epi64(acc));
}

// Eight words of every plane per step (planes after the first load zeros past words1); the
// weights are applied in the two vector sums.
int64_t turbo_planes_avx512(const uint64_t* query, const uint64_t* x, size_t n_planes,
                            size_t words, size_t words1) {
  __m512i pos = _mm512_setzero_si512(), neg = _mm512_setzero_si512();
  for (size_t i = 0; i < words; i += 8) {
    const __mmask8 m = tail8(words - i < 8 ? words - i : 8);
    const __mmask8 m1 = tail8(words1 <= i ? 0 : words1 - i < 8 ? words1 - i : 8);
    __m512i q[8];
    for (size_t t = 0; t < 8; ++t) q[t] = _mm512_maskz_loadu_epi64(m, query + t * words + i);
    for (size_t p = 0; p < n_planes; ++p) {
      const __m512i xv = p == 0 ? _mm512_maskz_loadu_epi64(m, x + i)
                                : _mm512_maskz_loadu_epi64(m1, x + words + (p - 1) * words1 + i);
      for (size_t t = 0; t < 7; ++t) {
        const __m512i c = _mm512_popcnt_epi64(_mm512_and_si512(q[t], xv));
        pos = _mm512_add_epi64(pos, _mm512_sll_epi64(c, _mm_cvtsi32_si128(int(p + t))));
      }
      const __m512i c = _mm512_popcnt_epi64(_mm512_and_si512(q[7], xv));
      neg = _mm512_add_epi64(neg, _mm512_sll_epi64(c, _mm_cvtsi32_si128(int(p + 7))));
    }
  }
  return int64_t(_mm512_reduce_add_epi64(pos)) - int64_t(_mm512_reduce_add_epi64(neg));
}

void turbo_pair_avx512(const uint64_t* a, const uint64_t* b, size_t n_planes, size_t words,
                       int64_t* out) {
  __m512i kk = _mm512_setzero_si512(), ka = _mm512_setzero_si512(), kb = _mm512_setzero_si512();
  for (size_t i = 0; i < words; i += 8) {
    const __mmask8 t = tail8(words - i < 8 ? words - i : 8);
    __m512i bv[4];
    for (size_t q = 0; q < n_planes; ++q) bv[q] = _mm512_maskz_loadu_epi64(t, b + q * words + i);
    for (size_t p = 0; p < n_planes; ++p) {
      const __m128i sp = _mm_cvtsi32_si128(int(p));
      const __m512i ap = _mm512_maskz_loadu_epi64(t, a + p * words + i);
      ka = _mm512_add_epi64(ka, _mm512_sll_epi64(_mm512_popcnt_epi64(ap), sp));
      kb = _mm512_add_epi64(kb, _mm512_sll_epi64(_mm512_popcnt_epi64(bv[p]), sp));
      for (size_t q = 0; q < n_planes; ++q) {
        const __m512i c = _mm512_popcnt_epi64(_mm512_and_si512(ap, bv[q]));
        kk = _mm512_add_epi64(kk, _mm512_sll_epi64(c, _mm_cvtsi32_si128(int(p + q))));
      }
    }
  }
  out[0] = _mm512_reduce_add_epi64(kk);
  out[1] = _mm512_reduce_add_epi64(ka);
  out[2] = _mm512_reduce_add_epi64(kb);
}

// 8 words a step; plane 1 and the mask load as zeros past words1 (plane 0 alone there).
void turbo_pair15_avx512(const uint64_t* a, const uint64_t* b, size_t words, size_t words1,
                         const uint64_t* mask1, int64_t* out) {
  __m512i kk1 = _mm512_setzero_si512(), s1 = kk1, kk0 = kk1, s0 = kk1;
  const auto pop = [](__m512i x) { return _mm512_popcnt_epi64(x); };
  for (size_t i = 0; i < words; i += 8) {
    const __mmask8 t0 = tail8(words - i < 8 ? words - i : 8);
    const __mmask8 t1 = tail8(words1 <= i ? 0 : words1 - i < 8 ? words1 - i : 8);
    const __m512i a0 = _mm512_maskz_loadu_epi64(t0, a + i), b0 = _mm512_maskz_loadu_epi64(t0, b + i);
    const __m512i a1 = _mm512_maskz_loadu_epi64(t1, a + words + i);
    const __m512i b1 = _mm512_maskz_loadu_epi64(t1, b + words + i);
    const __m512i m = _mm512_maskz_loadu_epi64(t1, mask1 + i), both = _mm512_and_si512(a0, b0);
    const __m512i cross = _mm512_add_epi64(pop(_mm512_and_si512(a0, b1)), pop(_mm512_and_si512(a1, b0)));
    kk1 = _mm512_add_epi64(kk1, pop(_mm512_and_si512(both, m)));
    kk1 = _mm512_add_epi64(kk1, _mm512_slli_epi64(cross, 1));
    kk1 = _mm512_add_epi64(kk1, _mm512_slli_epi64(pop(_mm512_and_si512(a1, b1)), 2));
    s1 = _mm512_add_epi64(s1, _mm512_add_epi64(pop(_mm512_and_si512(a0, m)), pop(_mm512_and_si512(b0, m))));
    s1 = _mm512_add_epi64(s1, _mm512_slli_epi64(_mm512_add_epi64(pop(a1), pop(b1)), 1));
    kk0 = _mm512_add_epi64(kk0, pop(_mm512_andnot_si512(m, both)));
    s0 = _mm512_add_epi64(s0, _mm512_add_epi64(pop(_mm512_andnot_si512(m, a0)), pop(_mm512_andnot_si512(m, b0))));
  }
  out[0] = _mm512_reduce_add_epi64(kk1);
  out[1] = _mm512_reduce_add_epi64(s1);
  out[2] = _mm512_reduce_add_epi64(kk0);
  out[3] = _mm512_reduce_add_epi64(s0);
}

// 64 bytes (128 coordinates) a step, the tail by a masked load (zero bytes add nothing).
int32_t turbo_nibbles_avx512(const int8_t* query, const uint8_t* x, size_t bytes) {
  const __m512i low = _mm512_set1_epi8(15);
  __m512i acc = _mm512_setzero_si512();
  for (size_t i = 0; i < bytes; i += 64) {
    const __mmask64 m = tail64(bytes - i);
    const __m512i xv = _mm512_maskz_loadu_epi8(m, x + i);
    acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(xv, low), _mm512_maskz_loadu_epi8(m, query + i));
    acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(_mm512_srli_epi16(xv, 4), low),
                              _mm512_maskz_loadu_epi8(m, query + bytes + i));
  }
  return _mm512_reduce_add_epi32(acc);
}

void turbo_nibble_pair_avx512(const uint8_t* a, const uint8_t* b, size_t bytes, int32_t* out) {
  const __m512i low = _mm512_set1_epi8(15), zero = _mm512_setzero_si512();
  __m512i kk = zero, ka = zero, kb = zero;
  for (size_t i = 0; i < bytes; i += 64) {
    const __mmask64 m = tail64(bytes - i);
    const __m512i av = _mm512_maskz_loadu_epi8(m, a + i), bv = _mm512_maskz_loadu_epi8(m, b + i);
    const __m512i al = _mm512_and_si512(av, low), ah = _mm512_and_si512(_mm512_srli_epi16(av, 4), low);
    const __m512i bl = _mm512_and_si512(bv, low), bh = _mm512_and_si512(_mm512_srli_epi16(bv, 4), low);
    kk = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(kk, al, bl), ah, bh);  // k <= 15: fits s8
    ka = _mm512_add_epi64(ka, _mm512_sad_epu8(_mm512_add_epi8(al, ah), zero));
    kb = _mm512_add_epi64(kb, _mm512_sad_epu8(_mm512_add_epi8(bl, bh), zero));
  }
  out[0] = _mm512_reduce_add_epi32(kk);
  out[1] = int32_t(_mm512_reduce_add_epi64(ka));
  out[2] = int32_t(_mm512_reduce_add_epi64(kb));
}

void pq_assign_avx512(const float* x, size_t n, size_t stride, size_t w, const float* centroids_t,
                      uint8_t* codes, float* dists) {
  // All 256 centroids live in 16 accumulators; per centroid the sum runs over j in order with a
  // separate multiply and add, exactly as the serial kernel does, so codes match bit for bit.
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (size_t i = 0; i < n; ++i) {
    const float* row = x + i * stride;
    __m512 acc[16];
    for (int k = 0; k < 16; ++k) acc[k] = _mm512_setzero_ps();
    for (size_t j = 0; j < w; ++j) {
      const __m512 xj = _mm512_set1_ps(row[j]);
      const float* c = centroids_t + j * 256;
      for (int k = 0; k < 16; ++k) {
        const __m512 d = _mm512_sub_ps(xj, _mm512_loadu_ps(c + 16 * k));
        acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(d, d));
      }
    }
    __m512 best = acc[0];
    __m512i best_idx = iota;
    for (int k = 1; k < 16; ++k) {
      const __mmask16 lt = _mm512_cmp_ps_mask(acc[k], best, _CMP_LT_OQ);
      best = _mm512_mask_mov_ps(best, lt, acc[k]);
      best_idx = _mm512_mask_mov_epi32(best_idx, lt, _mm512_add_epi32(iota, _mm512_set1_epi32(16 * k)));
    }
    const float min = _mm512_reduce_min_ps(best);
    const __mmask16 at_min = _mm512_cmp_ps_mask(best, _mm512_set1_ps(min), _CMP_EQ_OQ);
    const int32_t idx = _mm512_mask_reduce_min_epi32(at_min, best_idx);
    codes[i] = uint8_t(idx);
    if (dists) dists[i] = min;
  }
}

// Narrow originals (float16 bits, uint8 values) widened to 16 floats at a time: vcvtph2ps and
// vpmovzxbd + vcvtdq2ps, masked loads for the tail.
struct Half16 {
  static __m512 load(const uint16_t* x) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
  }
  static __m512 load(const uint16_t* x, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x));
  }
};

struct Byte16 {
  static __m512 load(const uint8_t* x) {
    return _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x))));
  }
  static __m512 load(const uint8_t* x, __mmask16 m) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, x)));
  }
};

// kOp: 0 dot, 1 squared L2, 2 L1.
template <int kOp>
inline __m512 wide_step(__m512 acc, __m512 q, __m512 x) {
  if (kOp == 0) return _mm512_fmadd_ps(q, x, acc);
  const __m512 d = _mm512_sub_ps(q, x);
  return kOp == 1 ? _mm512_fmadd_ps(d, d, acc) : _mm512_add_ps(acc, _mm512_abs_ps(d));
}

template <int kOp, class L, class T>
float wide_avx512(const float* q, const T* x, size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = wide_step<kOp>(s0, _mm512_loadu_ps(q + i), L::load(x + i));
    s1 = wide_step<kOp>(s1, _mm512_loadu_ps(q + i + 16), L::load(x + i + 16));
  }
  for (; i < dim; i += 16) {
    const __mmask16 m = tail16(dim - i < 16 ? dim - i : 16);
    s0 = wide_step<kOp>(s0, _mm512_maskz_loadu_ps(m, q + i), L::load(x + i, m));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

float cos_u8f32_avx512(const float* q, const uint8_t* x, size_t dim) {
  __m512 dot = _mm512_setzero_ps(), norm = _mm512_setzero_ps();
  for (size_t i = 0; i < dim; i += 16) {
    const __mmask16 m = tail16(dim - i < 16 ? dim - i : 16);
    const __m512 v = Byte16::load(x + i, m);
    dot = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), v, dot);
    norm = _mm512_fmadd_ps(v, v, norm);
  }
  const float n = _mm512_reduce_add_ps(norm);
  return n > 0.f ? _mm512_reduce_add_ps(dot) / std::sqrt(n) : 0.f;
}

}  // namespace

const Kernels kAvx512 = {dot_f32_avx512,    l2_f32_avx512,          l1_f32_avx512,
                         four_f32_avx512<false>, four_f32_avx512<true>,
                         dot_u8_avx512,     dot4_u8_avx512,         dot4_s8u8_avx512,      dot_s8u8_avx512,
                         l2_u8_avx512,
                         l1_u8_avx512,
                         hamming_b1_avx512, hamming_b1_rows_avx512, andpop_b1_avx512, turbo_planes_avx512, turbo_pair_avx512, turbo_pair15_avx512,
                         turbo_nibbles_avx512, turbo_nibble_pair_avx512,
                         pq_assign_avx512,
                         wide_avx512<0, Half16, uint16_t>, wide_avx512<1, Half16, uint16_t>,
                         wide_avx512<2, Half16, uint16_t>,
                         wide_avx512<0, Byte16, uint8_t>, wide_avx512<1, Byte16, uint8_t>,
                         wide_avx512<2, Byte16, uint8_t>,
                         cos_u8f32_avx512};

}  // namespace vqdb::simd
