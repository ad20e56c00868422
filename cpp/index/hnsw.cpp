#include "index/hnsw.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <queue>
#include <stdexcept>

#include "codec/kmeans.h"
#include "parallel.h"

namespace vqdb {

// hnswlib's trick: a visited mark per node compared against a tag that is bumped per search,
// so nothing is cleared between searches.
class Hnsw::Visited {
 public:
  void reset(size_t n) {
    if (marks_.size() < n) marks_.resize(n, 0);
    if (++tag_ == 0) {
      std::fill(marks_.begin(), marks_.end(), 0);
      tag_ = 1;
    }
  }
  bool test_and_set(uint32_t id) {
    if (marks_[id] == tag_) return true;
    marks_[id] = tag_;
    return false;
  }

 private:
  std::vector<uint16_t> marks_;
  uint16_t tag_ = 0;
};

namespace {

struct WorseFirst {
  bool operator()(const Neighbor& a, const Neighbor& b) const { return better(a, b); }
};
struct BestFirst {
  bool operator()(const Neighbor& a, const Neighbor& b) const { return better(b, a); }
};
constexpr int kMaxLevel = 16;
constexpr float kSlack = 1.1f;

}  // namespace

Hnsw::Hnsw(size_t m, size_t ef_construct, uint64_t seed)
    : m_(m), m0_(2 * m), ef_construct_(ef_construct), level_mult_(1.0 / std::log(double(m))),
      seed_(seed) {
  if (m < 2) throw std::invalid_argument("hnsw m must be at least 2");
  if (ef_construct < 1) throw std::invalid_argument("hnsw ef_construct must be at least 1");
}

Hnsw::~Hnsw() = default;

Hnsw::Layer Hnsw::layer(uint32_t node, int level) const {
  if (level == 0)
    return {const_cast<uint32_t*>(links0()) + size_t(node) * (m0_ + 1), m0_};
  return {const_cast<uint32_t*>(upper_.data()) + upper_start(node) + size_t(level - 1) * (m_ + 1),
          m_};
}

size_t Hnsw::upper_start(uint32_t node) const {
  const size_t first = node / kBlock * kBlock;
  size_t before = 0;
  for (size_t i = first; i < node; ++i) before += levels_[i];
  return upper_block_[node / kBlock] + before * (m_ + 1);
}

void Hnsw::grow(size_t n, const uint8_t* levels) {
  size_t words = upper_.size();
  for (size_t i = levels_.size(); i < n; ++i) {
    if (i % kBlock == 0) upper_block_.push_back(words);
    levels_.push_back(levels[i]);
    words += size_t(levels[i]) * (m_ + 1);
  }
  upper_.resize(words, 0);
}

std::unique_ptr<Hnsw::Visited> Hnsw::acquire_visited() const {
  std::unique_ptr<Visited> v;
  {
    std::lock_guard<std::mutex> lock(pool_lock_);
    if (!pool_.empty()) {
      v = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  if (!v) v = std::make_unique<Visited>();
  v->reset(size());
  return v;
}

void Hnsw::release_visited(std::unique_ptr<Visited> v) const {
  std::lock_guard<std::mutex> lock(pool_lock_);
  pool_.push_back(std::move(v));
}

void Hnsw::resize(size_t n) {
  std::vector<uint8_t> levels(n, 0);
  for (size_t i = levels_.size(); i < n; ++i) {
    // The level depends only on the seed and the offset, not on thread timing.
    uint64_t state = seed_ ^ (uint64_t(i) * 0x9e3779b97f4a7c15ULL);
    const double u = (double(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
    levels[i] = uint8_t(std::min(kMaxLevel, int(-std::log(u) * level_mult_)));
  }
  links0_.resize(n * (m0_ + 1), 0);
  grow(n, levels.data());
}

void Hnsw::add(const VectorSet& set, size_t threads) {
  const size_t first = size(), n = set.size();
  if (n <= first) return;
  if (links0_view_) throw std::logic_error("a graph walking viewed links takes no new nodes");
  resize(n);
  locks_.reset(new std::mutex[n]);
  diverse0_.assign(n, kUnselected);  // lists of earlier adds: unknown, so rebuilt in full
  // Higher levels first (as faiss does): the sparse upper layers exist before the crowd of
  // level-0 nodes arrives, so early inserts route well.
  std::vector<uint32_t> order(n - first);
  for (size_t i = 0; i < order.size(); ++i) order[i] = uint32_t(first + i);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return levels_[a] > levels_[b]; });
  size_t next = 0;
  if (entry_ < 0) insert(set, order[next++]);
  parallel_for(order.size() - next, threads, 64, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) insert(set, order[next + i]);
  });
  locks_.reset();
  diverse0_ = {};
}

template <bool kLocked>
uint32_t Hnsw::greedy(const QueryScorer& query, uint32_t entry, int from, int to) const {
  uint32_t cur = entry;
  float cur_score;
  query.score(&cur, 1, &cur_score);
  std::vector<uint32_t> ids(m_);
  std::vector<float> scores(m_);
  for (int level = from; level > to; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      size_t count;
      {
        std::unique_lock<std::mutex> lock;
        if (kLocked) lock = std::unique_lock<std::mutex>(locks_[cur]);
        const Layer l = layer(cur, level);
        count = l.links[0];
        std::memcpy(ids.data(), l.links + 1, count * sizeof(uint32_t));
      }
      query.score(ids.data(), count, scores.data());
      for (size_t i = 0; i < count; ++i)
        if (scores[i] > cur_score) {
          cur_score = scores[i];
          cur = ids[i];
          changed = true;
        }
    }
  }
  return cur;
}

template <bool kLocked>
std::vector<Neighbor> Hnsw::search_layer(const QueryScorer& query, uint32_t entry, size_t ef,
                                         int level, const uint64_t* allowed) const {
  auto visited = acquire_visited();
  const size_t cap = level == 0 ? m0_ : m_;
  // Room for what a beam of ef usually holds, so the heaps do not grow a push at a time.
  std::vector<Neighbor> result_room, candidate_room;
  result_room.reserve(ef + cap + 1);
  candidate_room.reserve(2 * (ef + cap));
  std::priority_queue<Neighbor, std::vector<Neighbor>, WorseFirst> results(WorseFirst(),
                                                                           std::move(result_room));
  std::priority_queue<Neighbor, std::vector<Neighbor>, BestFirst> candidates(
      BestFirst(), std::move(candidate_room));
  std::vector<uint32_t> ids(cap);
  std::vector<float> scores(cap);

  float entry_score;
  query.score(&entry, 1, &entry_score);
  visited->test_and_set(entry);
  candidates.push({entry_score, entry});
  if (allowed_id(allowed, entry)) results.push({entry_score, entry});

  while (!candidates.empty()) {
    const Neighbor c = candidates.top();
    if (results.size() >= ef && c.score < results.top().score) break;
    candidates.pop();
    // The next candidate's links are most often the next ones read: fetch them while this
    // candidate's neighbours are scored (+7-11% QPS on PQ walks, measured A/B).
    if (level == 0 && !candidates.empty())
      prefetch_bytes(links0() + size_t(candidates.top().id) * (m0_ + 1),
                     (m0_ + 1) * sizeof(uint32_t));
    size_t fresh = 0;
    {
      std::unique_lock<std::mutex> lock;
      if (kLocked) lock = std::unique_lock<std::mutex>(locks_[c.id]);
      const Layer l = layer(c.id, level);
      const uint32_t count = l.links[0];
      for (uint32_t i = 1; i <= count; ++i)
        if (!visited->test_and_set(l.links[i])) ids[fresh++] = l.links[i];
    }
    query.score(ids.data(), fresh, scores.data());
    for (size_t i = 0; i < fresh; ++i) {
      const float s = scores[i];
      if (results.size() < ef || s > results.top().score) {
        candidates.push({s, ids[i]});
        if (allowed_id(allowed, ids[i])) {
          results.push({s, ids[i]});
          if (results.size() > ef) results.pop();
        }
      }
    }
  }
  release_visited(std::move(visited));
  std::vector<Neighbor> out(results.size());
  for (size_t i = out.size(); i-- > 0; results.pop()) out[i] = results.top();
  return out;
}

// The heuristic of the HNSW paper, then DiskANN's slack, in two passes (DiskANN's occlude_list
// raises alpha from 1 the same way). Pass one is the paper's rule: a candidate is redundant when
// a neighbour already kept is nearer to it than the node is; what it keeps are the list's
// "diverse" links. Pass two fills the slots left with the candidates pass one dropped, nearest
// first, unless a link kept ahead of one is nearer to it than the node is by a factor kSlack on
// squared distance (each set turns that into a bar on its pair scores, so a test is one
// compare). The diverse links come first in the list, the fillers after them.
//
// The order matters. With the slack applied in one pass, lists filled up with the nearest
// candidates before any far one was looked at: on 64 Gaussian clusters in 1536-d, where the
// members of a cluster are all nearly equidistant, the slack dropped none of them, so no slot
// was left for a link to another cluster. Level 0 kept 10x fewer links out of their cluster
// than the paper's rule (3.7k vs 36k), level 1 6x fewer (1.9k vs 12k), 11% of the nodes had no
// link in, and searches that descended into the wrong cluster stayed there (11-13% of queries
// found none of their top 10 at ef=256). Pass one keeps the paper's links, the bridges among
// them; the fillers take only the slots it leaves (a third of them on wordnet-mpnet-768).
std::vector<Neighbor> Hnsw::select(const VectorSet& set, std::vector<Neighbor> candidates,
                                   size_t m, size_t* diverse) const {
  if (candidates.size() <= m) {
    *diverse = kUnselected;
    return candidates;
  }
  std::sort(candidates.begin(), candidates.end(), better);
  std::vector<Neighbor> kept;
  kept.reserve(m);
  // A candidate pass one dropped, for pass two: the diverse links ahead of it, and how many of
  // them pass one already compared it with (all within the slack but the last).
  struct Dropped {
    uint32_t index, compared, ahead;
  };
  std::vector<Dropped> dropped;
  for (size_t i = 0; i < candidates.size() && kept.size() < m; ++i) {
    const Neighbor& c = candidates[i];
    size_t j = 0;
    float pair = 0.f;
    for (; j < kept.size(); ++j) {
      pair = set.score_pair(c.id, kept[j].id);
      if (pair > c.score) break;
    }
    if (j == kept.size())
      kept.push_back(c);
    else if (pair <= set.nearer_bar(c.score, kSlack))
      dropped.push_back({uint32_t(i), uint32_t(j + 1), uint32_t(kept.size())});
  }
  const size_t d = kept.size();
  for (const Dropped& x : dropped) {
    if (kept.size() >= m) break;
    const Neighbor& c = candidates[x.index];
    const float bar = set.nearer_bar(c.score, kSlack);
    bool fits = true;
    for (size_t j = x.compared; fits && j < x.ahead; ++j)
      fits = set.score_pair(c.id, kept[j].id) <= bar;
    for (size_t j = d; fits && j < kept.size(); ++j)  // the fillers kept so far: all ahead of it
      fits = set.score_pair(c.id, kept[j].id) <= bar;
    if (fits) kept.push_back(c);
  }
  *diverse = d;
  return kept;
}

// select() over a list that select() (or admit()) produced, plus one newcomer: the same links,
// without redoing the pairs the list's own selection settled. What that selection proved:
//   (a) no diverse link is nearer to a diverse link behind it than the node is;
//   (b) no kept link is nearer to a filler behind it than the node is, by the slack;
//   (c) some diverse link ahead of each filler is nearer to it than the node is.
// Links ahead of the newcomer keep their places and kinds. Behind it, pass one asks only what
// the newcomer (and links whose kind changed) could change; pass two asks a filler only about
// the newcomer, and a diverse link the newcomer demoted about the fillers ahead of it. Most
// calls cost the newcomer against the links ahead of it and the links behind it against the
// newcomer: ~m pair scores instead of the ~m^2 / 2 of select(). Most level-0 lists are full,
// and rebuilding each in full took 178M pair scores instead of 78M to build wordnet (1.2x the
// build's CPU time) and 283M instead of 49M on the clusters above (2.7x); single-threaded
// builds give identical graphs either way.
bool Hnsw::admit(const VectorSet& set, std::vector<Neighbor>& list, size_t& diverse,
                 const Neighbor& newcomer, size_t m) const {
  const size_t d = diverse;
  std::sort(list.begin(), list.begin() + d, better);
  std::sort(list.begin() + d, list.end(), better);
  struct Member {
    Neighbor nb;
    bool was_diverse, is_newcomer, is_diverse = false, kept = false;
    float with_newcomer = 0.f;  // the pair score with the newcomer, once asked
    bool asked = false;
  };
  std::vector<Member> pool;
  pool.reserve(list.size() + 1);
  {  // merge the two sorted runs and the newcomer into one order
    size_t a = 0, b = d;
    bool placed = false;
    while (a < d || b < list.size() || !placed) {
      const Neighbor* next = nullptr;
      bool from_d = false;
      if (a < d) next = &list[a], from_d = true;
      if (b < list.size() && (!next || better(list[b], *next))) next = &list[b], from_d = false;
      if (!placed && (!next || better(newcomer, *next))) {
        pool.push_back({newcomer, false, true});
        placed = true;
        continue;
      }
      pool.push_back({*next, from_d, false});
      ++(from_d ? a : b);
    }
  }
  const auto with_newcomer = [&](Member& c) {
    if (!c.asked) c.with_newcomer = set.score_pair(c.nb.id, newcomer.id), c.asked = true;
    return c.with_newcomer;
  };
  size_t x = 0;
  while (!pool[x].is_newcomer) ++x;
  // Pass one. Ahead of the newcomer nothing changes.
  std::vector<uint32_t> kept_diverse;  // pool positions, in order
  kept_diverse.reserve(m);
  size_t fillers_ahead = 0;
  for (size_t i = 0; i < x && kept_diverse.size() < m; ++i) {
    pool[i].is_diverse = pool[i].was_diverse;
    if (pool[i].is_diverse)
      kept_diverse.push_back(uint32_t(i));
    else
      ++fillers_ahead;
  }
  if (kept_diverse.size() >= m) return false;  // the m nearest are all diverse, ahead of it
  const float newcomer_bar = set.nearer_bar(newcomer.score, kSlack);
  for (const uint32_t k : kept_diverse) {
    const float pair = with_newcomer(pool[k]);
    if (pair > newcomer_bar) return false;  // redundant even as a filler
    if (pair > newcomer.score) break;
  }
  {  // the loop above stopped at the first diverse link nearer to the newcomer than the node
    bool occluded = false;
    for (const uint32_t k : kept_diverse)
      occluded |= pool[k].asked && pool[k].with_newcomer > newcomer.score;
    pool[x].is_diverse = !occluded;
  }
  if (!pool[x].is_diverse && d + fillers_ahead >= m) return false;  // no room for a filler
  if (pool[x].is_diverse) {
    kept_diverse.push_back(uint32_t(x));
    bool demoted = false;  // a diverse link behind the newcomer lost its kind
    for (size_t i = x + 1; i < pool.size() && kept_diverse.size() < m; ++i) {
      Member& c = pool[i];
      bool occluded = false;
      if (c.was_diverse) {  // by (a), only the newcomer and promoted fillers can drop it
        occluded = with_newcomer(c) > c.nb.score;
        for (size_t j = 0; !occluded && j < kept_diverse.size(); ++j) {
          const Member& k = pool[kept_diverse[j]];
          if (!k.was_diverse && !k.is_newcomer)
            occluded = set.score_pair(c.nb.id, k.nb.id) > c.nb.score;
        }
        demoted |= occluded;
      } else if (!demoted) {
        occluded = true;  // by (c): its occluder is still diverse
      } else {
        for (size_t j = 0; !occluded && j < kept_diverse.size(); ++j) {
          Member& k = pool[kept_diverse[j]];
          const float pair = k.is_newcomer ? with_newcomer(c) : set.score_pair(c.nb.id, k.nb.id);
          occluded = pair > c.nb.score;
        }
      }
      c.is_diverse = !occluded;
      if (c.is_diverse) kept_diverse.push_back(uint32_t(i));
    }
  } else {  // a newcomer that is not diverse changes nothing in pass one
    for (size_t i = x + 1; i < pool.size(); ++i) {
      pool[i].is_diverse = pool[i].was_diverse;
      if (pool[i].is_diverse) kept_diverse.push_back(uint32_t(i));
    }
  }
  // Pass two, over the links pass one did not keep, in order, while there is room.
  size_t count = kept_diverse.size();
  for (size_t i = 0; i < pool.size() && count < m; ++i) {
    Member& c = pool[i];
    if (c.is_diverse) {
      c.kept = true;
      continue;
    }
    if (i < x) {  // ahead of the newcomer: as before
      c.kept = true;
      ++count;
      continue;
    }
    const float bar = set.nearer_bar(c.nb.score, kSlack);
    bool fits = true;
    for (size_t j = 0; fits && j < i; ++j) {
      Member& k = pool[j];
      if (!k.kept && !k.is_diverse) continue;
      if (c.is_newcomer) fits = with_newcomer(k) <= bar;
      else if (k.is_newcomer) fits = with_newcomer(c) <= bar;
      else if (c.was_diverse && !k.was_diverse)  // demoted: (a) covers diverse links only
        fits = set.score_pair(c.nb.id, k.nb.id) <= bar;
      // else (b) or (a): proved already
    }
    c.kept = fits;
    count += fits;
  }
  if (!pool[x].kept && !pool[x].is_diverse) return false;  // then nothing else changed either
  list.clear();
  for (const Member& c : pool)
    if (c.is_diverse) list.push_back(c.nb);
  diverse = list.size();
  for (const Member& c : pool)
    if (c.kept && !c.is_diverse) list.push_back(c.nb);
  return true;
}

void Hnsw::connect(const VectorSet& set, uint32_t node, const std::vector<Neighbor>& candidates,
                   int level) {
  const size_t cap = level == 0 ? m0_ : m_;
  size_t diverse;
  const std::vector<Neighbor> selected = select(set, candidates, cap, &diverse);
  {  // insert() holds the node's lock
    const Layer l = layer(node, level);
    l.links[0] = uint32_t(selected.size());
    for (size_t i = 0; i < selected.size(); ++i) l.links[i + 1] = selected[i].id;
    if (level == 0) diverse0_[node] = uint16_t(diverse);
  }
  for (const Neighbor& s : selected) {
    std::lock_guard<std::mutex> lock(locks_[s.id]);
    const Layer l = layer(s.id, level);
    const uint32_t count = l.links[0];
    if (count < l.capacity) {
      l.links[count + 1] = node;
      l.links[0] = count + 1;
      if (level == 0) diverse0_[s.id] = kUnselected;
      continue;
    }
    std::vector<Neighbor> pool;
    pool.reserve(count + 1);
    for (uint32_t i = 1; i <= count; ++i)
      pool.push_back({set.score_pair(s.id, l.links[i]), l.links[i]});
    const Neighbor newcomer{s.score, node};
    size_t d = level == 0 ? diverse0_[s.id] : kUnselected;
    if (d != kUnselected) {
      if (!admit(set, pool, d, newcomer, l.capacity)) continue;  // the list stays as it is
    } else {
      pool.push_back(newcomer);
      pool = select(set, std::move(pool), l.capacity, &d);
    }
    if (level == 0) diverse0_[s.id] = uint16_t(d);
    l.links[0] = uint32_t(pool.size());
    for (size_t i = 0; i < pool.size(); ++i) l.links[i + 1] = pool[i].id;
  }
}

void Hnsw::insert(const VectorSet& set, uint32_t node) {
  const int level = levels_[node];
  // The node's own lock is held for its whole insertion (as hnswlib does): another thread can
  // reach it through an upper layer before its lower lists exist, and must wait rather than
  // append a back-link that this insertion would then overwrite.
  std::lock_guard<std::mutex> node_guard(locks_[node]);
  std::unique_lock<std::mutex> entry_guard(entry_lock_);
  if (entry_ < 0) {
    entry_ = node;
    max_level_ = level;
    return;
  }
  const uint32_t entry = uint32_t(entry_);
  const int top = max_level_;
  if (level <= top) entry_guard.unlock();  // only a new top level keeps the entry locked

  const auto query = set.member_scorer(node);
  uint32_t cur = greedy<true>(*query, entry, top, level);
  for (int l = std::min(level, top); l >= 0; --l) {
    auto found = search_layer<true>(*query, cur, ef_construct_, l, nullptr);
    cur = found.front().id;
    connect(set, node, found, l);
  }
  if (level > top) {
    entry_ = node;
    max_level_ = level;
  }
}

std::vector<Neighbor> Hnsw::search(const QueryScorer& query, size_t k, size_t ef,
                                   const uint64_t* allowed) const {
  if (entry_ < 0 || k == 0) return {};
  if (!links0_view_ && links0_.size() < size() * (m0_ + 1))
    throw std::logic_error("the graph's level 0 was neither loaded nor viewed");
  const uint32_t start = greedy<false>(query, uint32_t(entry_), max_level_, 0);
  auto found = search_layer<false>(query, start, std::max(ef, k), 0, allowed);
  if (found.size() > k) found.resize(k);
  return found;
}

size_t Hnsw::memory_bytes() const {
  return levels_.capacity() + links0_.capacity() * sizeof(uint32_t) +
         upper_.capacity() * sizeof(uint32_t) + upper_block_.capacity() * sizeof(uint64_t);
}

State Hnsw::state() const {
  State s;
  const size_t n = size();
  auto pack = [](const std::string& dtype, std::vector<size_t> shape, const void* data,
                 size_t bytes) {
    Array a{dtype, std::move(shape), std::vector<uint8_t>(bytes)};
    if (bytes) std::memcpy(a.bytes.data(), data, bytes);
    return a;
  };
  const int64_t meta[5] = {int64_t(m_), int64_t(ef_construct_), entry_, max_level_, int64_t(seed_)};
  s["meta"] = pack("int64", {5}, meta, sizeof(meta));
  const std::vector<int32_t> levels(levels_.begin(), levels_.end());  // the file format's type
  s["levels"] = pack("int32", {n}, levels.data(), n * sizeof(int32_t));
  s["links0"] = pack("uint32", {n, m0_ + 1}, links0(), n * (m0_ + 1) * sizeof(uint32_t));
  s["upper"] = pack("uint32", {upper_.size()}, upper_.data(), upper_.size() * sizeof(uint32_t));
  return s;
}

void Hnsw::load_state(const State& state) {
  int64_t meta[5];
  const Array& m = state.at("meta");
  if (m.size() != sizeof(meta)) throw std::invalid_argument("bad hnsw meta");
  std::memcpy(meta, m.data(), sizeof(meta));
  if (size_t(meta[0]) != m_) throw std::invalid_argument("hnsw state was built with another m");
  const Array& levels = state.at("levels");
  const size_t n = levels.shape.at(0);
  // without "links0", level 0 is viewed next (view_links0): nothing to copy
  const auto links0 = state.find("links0");
  if (links0 != state.end() && links0->second.size() != n * (m0_ + 1) * sizeof(uint32_t))
    throw std::invalid_argument("hnsw links0 does not match levels");
  if (levels.size() != n * sizeof(int32_t)) throw std::invalid_argument("bad hnsw levels");
  std::vector<uint8_t> narrow(n);
  size_t words = 0;
  for (size_t i = 0; i < n; ++i) {
    int32_t level;
    std::memcpy(&level, levels.data() + i * sizeof(int32_t), sizeof(level));
    if (level < 0 || level > kMaxLevel) throw std::invalid_argument("bad hnsw level");
    narrow[i] = uint8_t(level);
    words += size_t(level) * (m_ + 1);
  }
  const Array& upper = state.at("upper");
  if (words * sizeof(uint32_t) != upper.size())
    throw std::invalid_argument("hnsw upper links do not match levels");
  levels_.clear();
  upper_.clear();
  upper_block_.clear();
  links0_view_ = nullptr;
  if (links0 != state.end()) {
    links0_.resize(n * (m0_ + 1));
    std::memcpy(links0_.data(), links0->second.data(), links0->second.size());
  } else {
    decltype(links0_)().swap(links0_);
  }
  levels_.reserve(n);
  upper_block_.reserve((n + kBlock - 1) / kBlock);
  upper_.reserve(words);
  grow(n, narrow.data());
  std::memcpy(upper_.data(), upper.data(), upper.size());
  entry_ = meta[2];
  max_level_ = int(meta[3]);
  seed_ = uint64_t(meta[4]);
}

void Hnsw::view_links0(const uint32_t* links, size_t rows) {
  if (rows != size()) throw std::invalid_argument("viewed links must have a row per node");
  decltype(links0_)().swap(links0_);  // frees the copy (assigning {} would keep its capacity)
  links0_view_ = links;
}

}  // namespace vqdb
