// IEEE binary16 <-> float32 in portable C++ (every ISA; the SIMD kernels use F16C / AVX-512 for
// the hot direction). float16 originals are stored as their 16 bits in uint16_t.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace vqdb::simd {

inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    const float v = float(mant) * 5.9604644775390625e-8f;  // subnormal (or zero): mant * 2^-24
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);  // infinity, NaN
  } else {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest, ties to even (numpy's astype(float16), Rust's half::f16::from_f32); values
// beyond float16's range become infinity (callers saturate first: see F16 in float_set.cpp).
inline uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (x > 0x7f800000u ? 0x200u : 0u));
  if (x >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504
  if (x < 0x38800000u) {  // below 2^-14: a subnormal half, mant = round(|f| * 2^24)
    float v;
    std::memcpy(&v, &x, 4);
    return uint16_t(sign | uint16_t(std::nearbyint(v * 16777216.0f)));
  }
  x += 0x0fffu + ((x >> 13) & 1u);  // ties to even; a carry moves into the exponent
  return uint16_t(sign | ((x - (112u << 23)) >> 13));
}

}  // namespace vqdb::simd
