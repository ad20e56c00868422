#include "index/search.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "parallel.h"

namespace vqdb {

namespace {

// A sparse allowed set (a selective filter) is cheaper to score id by id than to scan past.
std::vector<Neighbor> sparse_search(const QueryScorer& query, size_t n, size_t k,
                                    const uint64_t* allowed) {
  constexpr size_t kBlock = 256;
  TopK top(k);
  uint32_t ids[kBlock];
  float scores[kBlock];
  size_t m = 0;
  auto flush = [&] {
    query.score(ids, m, scores);
    for (size_t i = 0; i < m; ++i) top.push({scores[i], ids[i]});
    m = 0;
  };
  for (size_t w = 0; w < (n + 63) / 64; ++w)
    for (uint64_t bits = allowed[w]; bits; bits &= bits - 1) {
      const size_t id = w * 64 + size_t(__builtin_ctzll(bits));
      if (id >= n) break;
      ids[m++] = uint32_t(id);
      if (m == kBlock) flush();
    }
  if (m) flush();
  return std::move(top.sorted());
}

size_t count_allowed(const uint64_t* allowed, size_t n) {
  size_t count = 0;
  for (size_t w = 0; w < (n + 63) / 64; ++w) count += size_t(__builtin_popcountll(allowed[w]));
  return count;
}

}  // namespace

namespace {

// The dense scan of rows [begin, end).
std::vector<Neighbor> scan(const QueryScorer& query, size_t begin, size_t end, size_t k,
                           const uint64_t* allowed) {
  constexpr size_t kBlock = 1024;
  TopK top(k);
  float scores[kBlock];
  // Ids rise through the scan, so a later equal score never beats the current worst: once the
  // top k is full, a strict compare against a cached threshold decides, 16 scores at a time
  // (a loop the compiler vectorises), and almost every chunk is skipped whole.
  constexpr size_t kChunk = 16;
  float threshold = -INFINITY;
  auto offer = [&](size_t first, size_t i) {
    const uint32_t id = uint32_t(first + i);
    if (!allowed_id(allowed, id)) return;
    top.push({scores[i], id});
    if (top.full()) threshold = top.worst();
  };
  for (size_t first = begin; first < end; first += kBlock) {
    const size_t m = std::min(kBlock, end - first);
    query.score_range(uint32_t(first), m, scores);
    size_t i = 0;
    for (; i < m && !top.full(); ++i) offer(first, i);
    for (; i < m; i += kChunk) {
      const size_t stop = std::min(m, i + kChunk);
      bool hit = false;
      for (size_t j = i; j < stop; ++j) hit |= scores[j] > threshold;
      if (!hit) continue;
      for (size_t j = i; j < stop; ++j)
        if (scores[j] > threshold) offer(first, j);
    }
  }
  return std::move(top.sorted());
}

bool selective(const uint64_t* allowed, size_t n) {
  return allowed && count_allowed(allowed, n) < n / 8;
}

}  // namespace

std::vector<Neighbor> plain_search(const QueryScorer& query, size_t n, size_t k,
                                   const uint64_t* allowed) {
  if (selective(allowed, n)) return sparse_search(query, n, k, allowed);
  return scan(query, 0, n, k, allowed);
}

namespace {

std::vector<Neighbor> candidates(const Hnsw* graph, const QueryScorer& scorer, size_t n,
                                 const SearchPlan& plan) {
  const size_t want = std::max(plan.candidates, plan.limit);
  return graph ? graph->search(scorer, want, std::max(plan.ef, want), plan.allowed)
               : plain_search(scorer, n, want, plan.allowed);
}

void finish(std::vector<Neighbor>& found, const SearchPlan& plan, int64_t* ids, float* scores) {
  for (size_t i = 0; i < plan.limit; ++i) {
    ids[i] = i < found.size() ? int64_t(found[i].id) : -1;
    scores[i] = i < found.size() ? found[i].score : NAN;
  }
}

void rescored(std::vector<Neighbor>& found, const float* exact) {
  for (size_t i = 0; i < found.size(); ++i) found[i].score = exact[i];
  std::sort(found.begin(), found.end(), better);
}

// Query q bound to a set: row q, or the group of rows the offsets give.
std::unique_ptr<QueryScorer> bind(const VectorSet& set, const float* queries,
                                  const int64_t* offsets, size_t q) {
  if (!offsets) return set.scorer(queries + q * set.dim());
  return set.multi_scorer(queries + size_t(offsets[q]) * set.dim(),
                          size_t(offsets[q + 1] - offsets[q]));
}

// A lone query's plain scan of at least this many bytes a thread is split over plan.threads
// (an appendable segment a steady upload keeps growing, an exact search): each thread scans a
// range of rows into a top k of its own, and those merge into exactly the one scan's top k
// (ties go to the lower id either way). Below it, starting a thread costs more than it saves.
constexpr size_t kScanBytesPerThread = size_t(2) << 20;

std::vector<Neighbor> scanned(const VectorSet& walk, const float* queries,
                              const int64_t* offsets, size_t q, const SearchPlan& plan) {
  const size_t n = walk.size();
  const size_t want = std::max(plan.candidates, plan.limit);
  const size_t split = std::min(resolve_threads(plan.threads),
                                n * walk.code_bytes() / kScanBytesPerThread);
  if (split <= 1 || selective(plan.allowed, n))
    return plain_search(*bind(walk, queries, offsets, q), n, want, plan.allowed);
  std::vector<std::vector<Neighbor>> tops(split);
  parallel_for(split, split, 1, [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t)
      tops[t] = scan(*bind(walk, queries, offsets, q), n * t / split, n * (t + 1) / split, want,
                     plan.allowed);
  });
  TopK top(want);
  for (const std::vector<Neighbor>& part : tops)
    for (const Neighbor& neighbor : part) top.push(neighbor);
  return std::move(top.sorted());
}

void search_one(const Hnsw* graph, const VectorSet& walk, const VectorSet* rescore,
                const float* queries, const int64_t* offsets, size_t q, const SearchPlan& plan,
                int64_t* ids, float* scores) {
  std::vector<Neighbor> found = graph ? candidates(graph, *bind(walk, queries, offsets, q),
                                                   walk.size(), plan)
                                      : scanned(walk, queries, offsets, q, plan);
  if (rescore && !found.empty()) {
    std::vector<uint32_t> ids_of(found.size());
    std::vector<float> exact(found.size());
    for (size_t i = 0; i < found.size(); ++i) ids_of[i] = found[i].id;
    bind(*rescore, queries, offsets, q)->score(ids_of.data(), ids_of.size(), exact.data());
    rescored(found, exact.data());
  }
  finish(found, plan, ids, scores);
}

// Whether the page cache holds a query's candidates, judged from a sample of them spread over
// the list. A mincore call costs about what reading a cached row through io_uring does (1-2 us
// here), so asking about every row would never pay; a wrong "yes" costs a page fault for each
// row that was not there after all, a wrong "no" only the reads of rows that were. Once many
// queries in a row found everything cached (a warm file), one row is sample enough.
bool cached(const VectorSet& set, const RowReader& reader, const std::vector<Neighbor>& found,
            size_t sample) {
  constexpr uint32_t kWarm = 64;  // queries in a row
  std::atomic<uint32_t>& streak = reader.cached_streak();
  const size_t n = found.size();
  const size_t k = std::min(streak.load(std::memory_order_relaxed) >= kWarm ? 1 : sample, n);
  for (size_t j = 0; j < k; ++j)
    if (!resident(set.codes(found[j * n / k].id), set.code_bytes())) {
      streak.store(0, std::memory_order_relaxed);
      return false;
    }
  if (streak.load(std::memory_order_relaxed) < kWarm) streak.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// Rows gathered per batch at most: a 1000-query batch is read in chunks of queries.
constexpr size_t kGatherBytes = size_t(64) << 20;

// Walk all, read the candidates' rows in one call, score all: the reads of a batch are in
// flight together instead of faulting in one page at a time.
void search_gathered(const Hnsw* graph, const VectorSet& walk, const Rescore& rescore,
                     const float* queries, size_t nq, const SearchPlan& plan, int64_t* ids,
                     float* scores) {
  const VectorSet& set = *rescore.set;
  const size_t row = set.code_bytes();
  const size_t per_query = std::max(plan.candidates, plan.limit) * row;
  const size_t chunk = std::max<size_t>(1, kGatherBytes / per_query);
  // Reused across calls by each calling thread: a fresh buffer per query would be page
  // faults and zeroing of a few hundred KB every time.
  thread_local std::vector<uint8_t> buffer;
  for (size_t q0 = 0; q0 < nq; q0 += chunk) {
    const size_t m = std::min(chunk, nq - q0);
    std::vector<std::vector<Neighbor>> found(m);
    std::vector<std::vector<const uint8_t*>> rows(m);  // nullptr: still to be read
    parallel_for(m, plan.threads, 1, [&](size_t begin, size_t end) {
      for (size_t q = begin; q < end; ++q) {
        found[q] = candidates(graph, *walk.scorer(queries + (q0 + q) * walk.dim()), walk.size(),
                              plan);
        rows[q].assign(found[q].size(), nullptr);
        if (rescore.check_cache && cached(set, *rescore.reader, found[q], rescore.sample))
          for (size_t i = 0; i < found[q].size(); ++i) rows[q][i] = set.codes(found[q][i].id);
      }
    });
    std::vector<uint32_t> missing;
    for (size_t q = 0; q < m; ++q)
      for (size_t i = 0; i < found[q].size(); ++i)
        if (!rows[q][i]) missing.push_back(found[q][i].id);
    if (buffer.size() < missing.size() * row) buffer.resize(missing.size() * row);
    rescore.reader->read(missing.data(), missing.size(), buffer.data());
    size_t k = 0;
    for (size_t q = 0; q < m; ++q)
      for (auto& p : rows[q])
        if (!p) p = buffer.data() + row * k++;
    parallel_for(m, plan.threads, 1, [&](size_t begin, size_t end) {
      std::vector<float> exact;
      for (size_t q = begin; q < end; ++q) {
        const float* query = queries + (q0 + q) * walk.dim();
        exact.resize(found[q].size());
        if (!found[q].empty())
          set.scorer(query)->score_rows(rows[q].data(), found[q].size(), exact.data());
        rescored(found[q], exact.data());
        finish(found[q], plan, ids + (q0 + q) * plan.limit, scores + (q0 + q) * plan.limit);
      }
    });
  }
  if (buffer.capacity() > (size_t(16) << 20)) std::vector<uint8_t>().swap(buffer);
}

}  // namespace

void search_batch(const Hnsw* graph, const VectorSet& walk, const Rescore& rescore,
                  const float* queries, size_t nq, const SearchPlan& plan, int64_t* ids,
                  float* scores, const int64_t* query_offsets) {
  if (rescore.set && rescore.reader && !query_offsets)
    return search_gathered(graph, walk, rescore, queries, nq, plan, ids, scores);
  SearchPlan each = plan;  // a batch's threads take a query each; a lone query may split its scan
  if (nq > 1) each.threads = 1;
  parallel_for(nq, plan.threads, 1, [&](size_t begin, size_t end) {
    for (size_t q = begin; q < end; ++q)
      search_one(graph, walk, rescore.set, queries, query_offsets, q, each,
                 ids + q * plan.limit, scores + q * plan.limit);
  });
}

}  // namespace vqdb
