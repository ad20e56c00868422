// Small helpers shared by the graph and the plain scan: a scored id, heaps, an allowed-id test.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace vqdb {

struct Neighbor {
  float score;
  uint32_t id;
};

// Orders the best (highest score, then lowest id) first.
inline bool better(const Neighbor& a, const Neighbor& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// A bounded set of the k best neighbours seen so far (the worst sits on top of a heap).
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k + 1); }
  bool full() const { return heap_.size() >= k_; }
  float worst() const { return heap_.front().score; }
  void push(Neighbor n) {
    if (!full()) {
      heap_.push_back(n);
      std::push_heap(heap_.begin(), heap_.end(), better);
    } else if (better(n, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = n;
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
  }
  // Best first.
  std::vector<Neighbor>& sorted() {
    std::sort_heap(heap_.begin(), heap_.end(), better);
    return heap_;
  }

 private:
  size_t k_;
  std::vector<Neighbor> heap_;
};

inline bool allowed_id(const uint64_t* allowed, uint32_t id) {
  return allowed == nullptr || (allowed[id >> 6] >> (id & 63)) & 1u;
}

}  // namespace vqdb
