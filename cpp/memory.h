// An allocator for the large arrays that searches read at random (vectors, codes, graph links).
// Asking for transparent huge pages cuts TLB misses on those reads, which dominate graph walks
// over data larger than the caches; small arrays use plain malloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace vqdb {

template <class T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHuge = size_t(2) << 20;

  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  // Only the whole huge pages inside the array are marked: marking the rounded-up size would
  // fault in a full 2 MB page for the last few bytes (up to 2 MB of RSS per array for nothing).
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    void* p = nullptr;
    if (bytes >= 2 * kHuge) {
      if (posix_memalign(&p, kHuge, bytes) != 0) p = nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
      if (p) madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);
#endif
    } else {
      p = std::malloc(bytes > 0 ? bytes : 1);
    }
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) noexcept { std::free(p); }

  template <class U>
  bool operator==(const HugePageAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const HugePageAllocator<U>&) const noexcept { return false; }
};

// Starts fetching every cache line that `bytes` from p touch (a row that starts mid-line spans
// one line more than bytes / 64): scorers fetch the scattered rows of graph neighbours before
// scoring them.
inline void prefetch_bytes(const void* p, size_t bytes) {
  if (bytes == 0) return;
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~uintptr_t(63);
  const uintptr_t last = reinterpret_cast<uintptr_t>(p) + bytes - 1;
  for (uintptr_t line = first; line <= last; line += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(line));
}

}  // namespace vqdb
