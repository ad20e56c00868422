// Portable reference kernels: plain loops, correct on every CPU (the arm64 build uses only these).
#include <cmath>
#include <cstdlib>

#include "simd/half.h"
#include "simd/kernels.h"

namespace vqdb::simd {

namespace {

float dot_f32_serial(const float* a, const float* b, size_t dim) {
  float s = 0.f;
  for (size_t i = 0; i < dim; ++i) s += a[i] * b[i];
  return s;
}

float l2_f32_serial(const float* a, const float* b, size_t dim) {
  float s = 0.f;
  for (size_t i = 0; i < dim; ++i) {
    const float d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

float l1_f32_serial(const float* a, const float* b, size_t dim) {
  float s = 0.f;
  for (size_t i = 0; i < dim; ++i) s += std::fabs(a[i] - b[i]);
  return s;
}

void dot4_f32_serial(const float* q, const float* const* rows, size_t dim, float* out) {
  for (int r = 0; r < 4; ++r) out[r] = dot_f32_serial(q, rows[r], dim);
}

void l24_f32_serial(const float* q, const float* const* rows, size_t dim, float* out) {
  for (int r = 0; r < 4; ++r) out[r] = l2_f32_serial(q, rows[r], dim);
}

int32_t dot_u8_serial(const uint8_t* a, const uint8_t* b, size_t dim) {
  int32_t s = 0;
  for (size_t i = 0; i < dim; ++i) s += int32_t(a[i]) * int32_t(b[i]);
  return s;
}

void dot4_u8_serial(const uint8_t* q, const uint8_t* const* rows, size_t dim, int32_t* out) {
  for (int r = 0; r < 4; ++r) out[r] = dot_u8_serial(q, rows[r], dim);
}

int32_t dot_s8u8_serial(const int8_t* q, const uint8_t* row, size_t dim) {
  int32_t s = 0;
  for (size_t i = 0; i < dim; ++i) s += int32_t(q[i]) * int32_t(row[i]);
  return s;
}

void dot4_s8u8_serial(const int8_t* q, const uint8_t* const* rows, size_t dim, int32_t* out) {
  for (int r = 0; r < 4; ++r) out[r] = dot_s8u8_serial(q, rows[r], dim);
}

int32_t l2_u8_serial(const uint8_t* a, const uint8_t* b, size_t dim) {
  int32_t s = 0;
  for (size_t i = 0; i < dim; ++i) {
    const int32_t d = int32_t(a[i]) - int32_t(b[i]);
    s += d * d;
  }
  return s;
}

int32_t l1_u8_serial(const uint8_t* a, const uint8_t* b, size_t dim) {
  int32_t s = 0;
  for (size_t i = 0; i < dim; ++i) s += std::abs(int32_t(a[i]) - int32_t(b[i]));
  return s;
}

uint32_t hamming_b1_serial(const uint64_t* a, const uint64_t* b, size_t words) {
  uint32_t s = 0;
  for (size_t i = 0; i < words; ++i) s += uint32_t(__builtin_popcountll(a[i] ^ b[i]));
  return s;
}

void hamming_b1_rows_serial(const uint64_t* query, const uint64_t* rows, size_t n, size_t words,
                            uint32_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = hamming_b1_serial(query, rows + i * words, words);
}

uint32_t andpop_b1_serial(const uint64_t* planes, size_t n_planes, const uint64_t* x,
                          size_t words) {
  uint32_t s = 0;
  for (size_t p = 0; p < n_planes; ++p) {
    const uint64_t* q = planes + p * words;
    uint32_t count = 0;
    for (size_t i = 0; i < words; ++i) count += uint32_t(__builtin_popcountll(q[i] & x[i]));
    s += count << p;
  }
  return s;
}

int64_t turbo_planes_serial(const uint64_t* query, const uint64_t* x, size_t n_planes,
                            size_t words, size_t words1) {
  int64_t s = 0;
  for (size_t p = 0; p < n_planes; ++p) {
    const uint64_t* xp = p == 0 ? x : x + words + (p - 1) * words1;
    const size_t n = p == 0 ? words : words1;
    for (size_t t = 0; t < 8; ++t) {
      int64_t count = 0;
      for (size_t i = 0; i < n; ++i) count += __builtin_popcountll(query[t * words + i] & xp[i]);
      s += (t == 7 ? -count : count) * (int64_t(1) << (p + t));
    }
  }
  return s;
}

void turbo_pair_serial(const uint64_t* a, const uint64_t* b, size_t n_planes, size_t words,
                       int64_t* out) {
  int64_t kk = 0, ka = 0, kb = 0;
  for (size_t i = 0; i < words; ++i) {
    for (size_t p = 0; p < n_planes; ++p) {
      const uint64_t ap = a[p * words + i];
      ka += int64_t(__builtin_popcountll(ap)) << p;
      kb += int64_t(__builtin_popcountll(b[p * words + i])) << p;
      for (size_t q = 0; q < n_planes; ++q)
        kk += int64_t(__builtin_popcountll(ap & b[q * words + i])) << (p + q);
    }
  }
  out[0] = kk;
  out[1] = ka;
  out[2] = kb;
}

void turbo_pair15_serial(const uint64_t* a, const uint64_t* b, size_t words, size_t words1,
                       const uint64_t* mask1, int64_t* out) {
  int64_t kk1 = 0, s1 = 0, kk0 = 0, s0 = 0;
  for (size_t i = 0; i < words; ++i) {
    const uint64_t a0 = a[i], b0 = b[i], both = a0 & b0;
    const uint64_t m = i < words1 ? mask1[i] : 0, a1 = i < words1 ? a[words + i] : 0,
                   b1 = i < words1 ? b[words + i] : 0;
    kk1 += int64_t(__builtin_popcountll(both & m) + 2 * (__builtin_popcountll(a0 & b1) + __builtin_popcountll(a1 & b0)) + 4 * __builtin_popcountll(a1 & b1));
    s1 += int64_t(__builtin_popcountll(a0 & m) + __builtin_popcountll(b0 & m) + 2 * (__builtin_popcountll(a1) + __builtin_popcountll(b1)));
    kk0 += int64_t(__builtin_popcountll(both & ~m));
    s0 += int64_t(__builtin_popcountll(a0 & ~m) + __builtin_popcountll(b0 & ~m));
  }
  out[0] = int64_t(kk1);
  out[1] = int64_t(s1);
  out[2] = int64_t(kk0);
  out[3] = int64_t(s0);
}

int32_t turbo_nibbles_serial(const int8_t* query, const uint8_t* x, size_t bytes) {
  int32_t s = 0;
  for (size_t i = 0; i < bytes; ++i)
    s += int32_t(query[i]) * (x[i] & 15) + int32_t(query[bytes + i]) * (x[i] >> 4);
  return s;
}

void turbo_nibble_pair_serial(const uint8_t* a, const uint8_t* b, size_t bytes, int32_t* out) {
  int32_t kk = 0, ka = 0, kb = 0;
  for (size_t i = 0; i < bytes; ++i) {
    kk += (a[i] & 15) * (b[i] & 15) + (a[i] >> 4) * (b[i] >> 4);
    ka += (a[i] & 15) + (a[i] >> 4);
    kb += (b[i] & 15) + (b[i] >> 4);
  }
  out[0] = kk;
  out[1] = ka;
  out[2] = kb;
}

void pq_assign_serial(const float* x, size_t n, size_t stride, size_t w, const float* centroids_t,
                      uint8_t* codes, float* dists) {
  for (size_t i = 0; i < n; ++i) {
    const float* row = x + i * stride;
    float best = INFINITY;
    int best_c = 0;
    for (int c = 0; c < 256; ++c) {
      float acc = 0.f;
      for (size_t j = 0; j < w; ++j) {
        const float d = row[j] - centroids_t[j * 256 + c];
        acc = acc + d * d;
      }
      if (acc < best) {
        best = acc;
        best_c = c;
      }
    }
    codes[i] = uint8_t(best_c);
    if (dists) dists[i] = best;
  }
}

// Narrow originals against a float query: the element is widened to float, then as float32.
template <class T, class Widen>
float dot_wide(const float* q, const T* x, size_t dim, Widen widen) {
  float s = 0.f;
  for (size_t i = 0; i < dim; ++i) s += q[i] * widen(x[i]);
  return s;
}

template <class T, class Widen>
float l2_wide(const float* q, const T* x, size_t dim, Widen widen) {
  float s = 0.f;
  for (size_t i = 0; i < dim; ++i) {
    const float d = q[i] - widen(x[i]);
    s += d * d;
  }
  return s;
}

template <class T, class Widen>
float l1_wide(const float* q, const T* x, size_t dim, Widen widen) {
  float s = 0.f;
  for (size_t i = 0; i < dim; ++i) s += std::fabs(q[i] - widen(x[i]));
  return s;
}

float from_half(uint16_t h) { return half_to_float(h); }
float from_byte(uint8_t b) { return float(b); }

float dot_f16_serial(const float* q, const uint16_t* x, size_t dim) { return dot_wide(q, x, dim, from_half); }
float l2_f16_serial(const float* q, const uint16_t* x, size_t dim) { return l2_wide(q, x, dim, from_half); }
float l1_f16_serial(const float* q, const uint16_t* x, size_t dim) { return l1_wide(q, x, dim, from_half); }
float dot_u8f32_serial(const float* q, const uint8_t* x, size_t dim) { return dot_wide(q, x, dim, from_byte); }
float l2_u8f32_serial(const float* q, const uint8_t* x, size_t dim) { return l2_wide(q, x, dim, from_byte); }
float l1_u8f32_serial(const float* q, const uint8_t* x, size_t dim) { return l1_wide(q, x, dim, from_byte); }

float cos_u8f32_serial(const float* q, const uint8_t* x, size_t dim) {
  float dot = 0.f, norm = 0.f;
  for (size_t i = 0; i < dim; ++i) {
    const float v = float(x[i]);
    dot += q[i] * v;
    norm += v * v;
  }
  return norm > 0.f ? dot / std::sqrt(norm) : 0.f;
}

}  // namespace

const Kernels kSerial = {dot_f32_serial,    l2_f32_serial,          l1_f32_serial,
                         dot4_f32_serial,   l24_f32_serial,
                         dot_u8_serial,     dot4_u8_serial,         dot4_s8u8_serial,      dot_s8u8_serial,
                         l2_u8_serial,
                         l1_u8_serial,
                         hamming_b1_serial, hamming_b1_rows_serial, andpop_b1_serial, turbo_planes_serial, turbo_pair_serial, turbo_pair15_serial,
                         turbo_nibbles_serial, turbo_nibble_pair_serial,
                         pq_assign_serial,
                         dot_f16_serial,    l2_f16_serial,          l1_f16_serial,
                         dot_u8f32_serial,  l2_u8f32_serial,        l1_u8f32_serial,
                         cos_u8f32_serial};

}  // namespace vqdb::simd
