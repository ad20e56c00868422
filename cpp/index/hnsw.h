// HNSW graph (Malkov & Yashunin) over any VectorSet. It never sees a codec: it builds with the
// set's member scorers and pair scores, and searches with whatever QueryScorer it is handed.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "codec/vector_set.h"
#include "index/neighbors.h"
#include "memory.h"

namespace vqdb {

class Hnsw {
 public:
  Hnsw(size_t m, size_t ef_construct, uint64_t seed = 100);
  ~Hnsw();

  size_t size() const { return levels_.size(); }
  size_t m() const { return m_; }
  size_t ef_construct() const { return ef_construct_; }
  size_t memory_bytes() const;

  // Inserts the members of `set` the graph does not hold yet: offsets [size(), set.size()).
  void add(const VectorSet& set, size_t threads);

  // Up to k neighbours among the allowed ids (nullptr: all), best first.
  std::vector<Neighbor> search(const QueryScorer& query, size_t k, size_t ef,
                               const uint64_t* allowed) const;

  State state() const;
  void load_state(const State& state);
  // Walks `links` (level 0: size() rows of m0 + 1 words, as state()'s "links0") in place, in
  // a buffer the caller keeps alive (a read-only memory map of a segment file), instead of
  // a copy: processes reading one storage folder share it. Read-only from then on. Load the
  // rest first: load_state() of a state without "links0".
  void view_links0(const uint32_t* links, size_t rows);

 private:
  class Visited;
  struct Layer {
    uint32_t* links;  // [count, id, id, ...]
    size_t capacity;
  };

  Layer layer(uint32_t node, int level) const;
  const uint32_t* links0() const { return links0_view_ ? links0_view_ : links0_.data(); }
  void insert(const VectorSet& set, uint32_t node);
  template <bool kLocked>
  std::vector<Neighbor> search_layer(const QueryScorer& query, uint32_t entry, size_t ef, int level,
                                     const uint64_t* allowed) const;
  template <bool kLocked>
  uint32_t greedy(const QueryScorer& query, uint32_t entry, int from, int to) const;
  // The selected links, diverse ones first; `*diverse`: how many, or kUnselected when there
  // were no more candidates than m (all kept, none compared).
  std::vector<Neighbor> select(const VectorSet& set, std::vector<Neighbor> candidates, size_t m,
                               size_t* diverse) const;
  // Whether the list changed.
  bool admit(const VectorSet& set, std::vector<Neighbor>& list, size_t& diverse,
             const Neighbor& newcomer, size_t m) const;
  // Selects the node's links among `candidates` and links it back from each of them.
  void connect(const VectorSet& set, uint32_t node, const std::vector<Neighbor>& candidates,
               int level);
  void resize(size_t n);
  std::unique_ptr<Visited> acquire_visited() const;
  void release_visited(std::unique_ptr<Visited> v) const;

  size_t m_, m0_, ef_construct_;
  double level_mult_;
  uint64_t seed_;
  // Where node i's upper lists start in upper_: the block's start plus the lists of the nodes
  // before i in its block.
  size_t upper_start(uint32_t node) const;
  // Appends nodes [levels_.size(), n) with their levels and the bookkeeping of upper_.
  void grow(size_t n, const uint8_t* levels);

  static constexpr size_t kBlock = 16;  // nodes per upper_block_ entry

  std::vector<uint8_t> levels_;  // at most kMaxLevel (16)
  std::vector<uint32_t, HugePageAllocator<uint32_t>> links0_;  // (m0 + 1) words per node
  const uint32_t* links0_view_ = nullptr;  // or the caller's, after view_links0()
  // Levels above 0, one flat array, (m + 1) words per list, in node order. Only ~1 node in m
  // has any, so instead of a start per node (8 bytes each) there is one per block of kBlock
  // nodes: ~1.5 bytes per node with the levels.
  std::vector<uint32_t> upper_;
  std::vector<uint64_t> upper_block_;
  // One lock per node, only while add() runs: a built graph is read-only and pays nothing.
  std::unique_ptr<std::mutex[]> locks_;
  // Also only during add(): when a node's level-0 list is select()'s or admit()'s output,
  // untouched since, how many of its links are diverse (admit() may then update it cheaply);
  // kUnselected otherwise. Two bytes per node (m0 <= 4096), guarded by the node's lock.
  static constexpr size_t kUnselected = UINT16_MAX;
  std::vector<uint16_t> diverse0_;
  std::mutex entry_lock_;
  int64_t entry_ = -1;
  int max_level_ = -1;
  mutable std::mutex pool_lock_;
  mutable std::vector<std::unique_ptr<Visited>> pool_;
};

}  // namespace vqdb
