// An allocator for the large arrays that searches read at random (vectors, codes, graph links).
// Asking for transparent huge pages cuts TLB misses on those reads, which dominate graph walks
// over data larger than the caches; small arrays use plain malloc.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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

// A byte array that grows without copying what it holds: past 4 MB it lives in an anonymous
// mapping that mremap extends or moves (the kernel moves page tables, not bytes). An appendable
// segment's vectors grow under the collection's write lock, which searches wait for: as a
// std::vector, growing 96 MB of originals to 192 took ~290 ms (a new block, every byte copied
// into pages touched for the first time); here a few ms. Smaller arrays, and systems without
// mremap, reallocate and copy. New bytes are zero.
class GrowingBytes {
 public:
  static constexpr size_t kMapped = size_t(4) << 20;

  GrowingBytes() = default;
  GrowingBytes(const GrowingBytes&) = delete;
  GrowingBytes& operator=(const GrowingBytes&) = delete;
  ~GrowingBytes() { release(); }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

  void resize(size_t n) {
    if (n > capacity_) reserve(std::max(n, capacity_ * 2));
    if (n > size_) std::memset(data_ + size_, 0, n - size_);
    size_ = n;
  }

  void assign(const uint8_t* first, const uint8_t* last) {
    release();
    const size_t n = size_t(last - first);
    reserve(n);
    if (n) std::memcpy(data_, first, n);
    size_ = n;
  }

  // Frees the memory (an empty array holds none).
  void release() {
#if defined(__linux__)
    if (mapped_) {
      munmap(data_, capacity_);
    } else {
      std::free(data_);
    }
#else
    std::free(data_);
#endif
    data_ = nullptr;
    size_ = capacity_ = 0;
    mapped_ = false;
  }

 private:
  void reserve(size_t wanted) {
#if defined(__linux__)
    if (wanted >= kMapped) {
      const size_t bytes = (wanted + 4095) / 4096 * 4096;
      void* p = mapped_ ? mremap(data_, capacity_, bytes, MREMAP_MAYMOVE)
                        : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                               -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
      // Huge pages for an array made whole at once (a built or loaded segment's codes, read
      // at random by graph walks: fewer TLB misses), not for one growing a batch at a time (an
      // appendable segment's, scanned in order): there each write would fault in, zero and
      // perhaps compact 2 MB pages under the write lock (~5 ms a batch of 500 x 768 floats).
      if (capacity_ == 0) madvise(p, bytes, MADV_HUGEPAGE);
#endif
      if (!mapped_) {
        if (size_) std::memcpy(p, data_, size_);
        std::free(data_);
      }
      data_ = static_cast<uint8_t*>(p);
      capacity_ = bytes;
      mapped_ = true;
      return;
    }
#endif
    void* p = std::realloc(data_, wanted > 0 ? wanted : 1);
    if (!p) throw std::bad_alloc();
    data_ = static_cast<uint8_t*>(p);
    capacity_ = wanted;
  }

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  bool mapped_ = false;  // data_ is an anonymous mapping of capacity_ bytes
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
