#include "codec/kmeans.h"

#include <algorithm>
#include <numeric>

#include "simd/kernels.h"

namespace vqdb {

std::vector<float> kmeans256(const float* x, size_t n, size_t w, size_t iterations, uint64_t seed) {
  constexpr size_t k = 256;
  std::vector<float> centroids(w * k, 0.f);
  if (n == 0) return centroids;

  // Initial centroids: distinct random rows (a partial Fisher-Yates shuffle); with fewer than
  // 256 rows they repeat, and the repeats simply never win an assignment.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  uint64_t rng = seed;
  for (size_t c = 0; c < std::min(n, k); ++c)
    std::swap(order[c], order[c + splitmix64(rng) % (n - c)]);
  for (size_t c = 0; c < k; ++c)
    for (size_t j = 0; j < w; ++j) centroids[j * k + c] = x[order[c % n] * w + j];
  if (n <= k) return centroids;

  std::vector<uint8_t> assign(n);
  std::vector<double> sums(w * k);
  std::vector<size_t> counts(k);
  const auto& kernels = simd::active();
  for (size_t it = 0; it < iterations; ++it) {
    kernels.pq_assign(x, n, w, w, centroids.data(), assign.data(), nullptr);
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (size_t i = 0; i < n; ++i) {
      const size_t c = assign[i];
      ++counts[c];
      for (size_t j = 0; j < w; ++j) sums[j * k + c] += x[i * w + j];
    }
    for (size_t c = 0; c < k; ++c)
      if (counts[c] > 0)
        for (size_t j = 0; j < w; ++j) centroids[j * k + c] = float(sums[j * k + c] / double(counts[c]));
    // An empty cluster takes half of the largest one: both move apart by a small relative step.
    for (size_t c = 0; c < k; ++c) {
      if (counts[c] > 0) continue;
      const size_t big = size_t(std::max_element(counts.begin(), counts.end()) - counts.begin());
      for (size_t j = 0; j < w; ++j) {
        const float v = centroids[j * k + big];
        const float eps = (v == 0.f ? 1e-6f : std::abs(v) * 1e-3f) * ((j & 1) ? -1.f : 1.f);
        centroids[j * k + c] = v + eps;
        centroids[j * k + big] = v - eps;
      }
      counts[c] = counts[big] / 2;
      counts[big] -= counts[c];
    }
  }
  return centroids;
}

}  // namespace vqdb
