// Splits [0, n) over worker threads; the calling thread takes a share too.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace vqdb {

inline size_t resolve_threads(size_t requested) {
  if (requested > 0) return requested;
  // Asked once: glibc reads /sys for it, ~5 us, which was a third of a one-query search.
  static const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return cores;
}

// Calls fn(begin, end) on chunks of `grain` items pulled from a shared counter, so uneven work
// (HNSW inserts, PQ sub-spaces) balances itself. The first exception is rethrown.
template <class Fn>
void parallel_for(size_t n, size_t threads, size_t grain, Fn&& fn) {
  threads = std::min(resolve_threads(threads), (n + grain - 1) / std::max<size_t>(grain, 1));
  if (threads <= 1) {
    if (n > 0) fn(size_t(0), n);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      for (size_t begin; (begin = next.fetch_add(grain)) < n;) fn(begin, std::min(n, begin + grain));
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(n);
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace vqdb
