#include "query/fusion.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace vqdb {

namespace {

// Open addressing over a power-of-two table at most half full: a few hundred keys a query, so
// a probe or two each, and no allocation per key.
class KeySlots {
 public:
  explicit KeySlots(size_t n) {
    size_t size = 16;
    while (size < 2 * n) size *= 2;
    mask_ = size - 1;
    keys_.assign(size, kEmpty);
    slots_.resize(size);
  }

  // The slot of `key`: its order of first appearance (`next` if it is new).
  uint32_t find_or_add(int64_t key, uint32_t next) {
    size_t at = mix(uint64_t(key)) & mask_;
    while (keys_[at] != kEmpty && keys_[at] != key) at = (at + 1) & mask_;
    if (keys_[at] == kEmpty) {
      keys_[at] = key;
      slots_[at] = next;
    }
    return slots_[at];
  }

 private:
  static constexpr int64_t kEmpty = std::numeric_limits<int64_t>::min();

  static uint64_t mix(uint64_t x) {  // splitmix64's finaliser: keys are (segment, offset) bits
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
  }

  size_t mask_ = 0;
  std::vector<int64_t> keys_;
  std::vector<uint32_t> slots_;
};

}  // namespace

void fuse(const std::vector<RankedList>& lists, std::vector<int64_t>& keys,
          std::vector<float>& totals) {
  size_t n = 0;
  for (const RankedList& list : lists) n += list.size;
  KeySlots slots(n);
  keys.clear();
  totals.clear();
  for (const RankedList& list : lists)
    for (size_t i = 0; i < list.size; ++i) {
      const uint32_t slot = slots.find_or_add(list.keys[i], uint32_t(keys.size()));
      if (slot == keys.size()) {
        keys.push_back(list.keys[i]);
        totals.push_back(0.0f);
      }
      totals[slot] += list.scores[i];
    }
  std::vector<uint32_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const float x = totals[a], y = totals[b];
    if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
    return x > y;
  });
  std::vector<int64_t> sorted_keys(order.size());
  std::vector<float> sorted_totals(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    sorted_keys[i] = keys[order[i]];
    sorted_totals[i] = totals[order[i]];
  }
  keys.swap(sorted_keys);
  totals.swap(sorted_totals);
}

std::vector<float> rrf_scores(size_t n, float k, float weight) {
  std::vector<float> scores(n, 0.0f);
  if (!(weight > 0.0f)) return scores;
  for (size_t i = 0; i < n; ++i) scores[i] = 1.0f / (float(i + 1) / weight + k - 1.0f);
  return scores;
}

}  // namespace vqdb
