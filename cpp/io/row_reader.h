// Reads fixed-stride rows of a file (the original vectors of an on-disk segment) by row number,
// many at once: through io_uring when the kernel allows it, else through a pool of threads
// calling pread. Rescoring through a memory map takes one page fault at a time; this keeps
// all of a query batch's candidate reads in flight together.
//
// Python owns the file format: it parses the header and hands over an open descriptor, the
// offset of the first row and the stride. The reader reads only into buffers its caller owns,
// never calls back into Python, and is safe to use from many threads at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/uring.h"

namespace vqdb {

enum class ReadMethod { io_uring, pread };

// A read failed or hit the end of the file; the message starts with the file's name.
class ReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RowReader {
 public:
  // Takes its own duplicate of `fd` (closed with the reader). `name` appears in errors.
  // Asking for io_uring where the kernel refuses it gives pread, and fallback() says why.
  RowReader(int fd, uint64_t offset, size_t row_bytes, size_t rows, ReadMethod method,
            std::string name);
  ~RowReader();
  RowReader(const RowReader&) = delete;
  RowReader& operator=(const RowReader&) = delete;

  size_t rows() const { return rows_; }
  size_t row_bytes() const { return row_bytes_; }
  ReadMethod method() const { return method_; }
  const std::string& fallback() const { return fallback_; }

  // out[i] = row ids[i], row_bytes each; ids in any order, repeats allowed, all < rows().
  // Throws ReadError naming the file when a read fails or the file is too short.
  void read(const uint32_t* ids, size_t n, uint8_t* out) const;

  // Searches that check the page cache before reading (search.h, check_cache) count here how
  // many queries in a row found their rows cached: a warm file needs fewer mincore calls.
  std::atomic<uint32_t>& cached_streak() const { return cached_streak_; }

 private:
  std::unique_ptr<Uring> acquire_ring() const;
  void release_ring(std::unique_ptr<Uring> ring) const;
  void read_pread(const ReadRequest* requests, size_t n) const;

  int fd_;
  uint64_t offset_;
  size_t row_bytes_;
  size_t rows_;
  ReadMethod method_;
  std::string name_;
  std::string fallback_;
  // Rings are not thread-safe: each concurrent read takes one from here (or makes one).
  mutable std::mutex rings_lock_;
  mutable std::vector<std::unique_ptr<Uring>> rings_;
  mutable std::atomic<uint32_t> cached_streak_{0};
};

// Whether the `bytes` at `p` (inside a file memory map) are all in the page cache (mincore):
// rows that are can be scored in place for the price of a minor fault at most. Always true
// where mincore does not exist.
bool resident(const void* p, size_t bytes);

}  // namespace vqdb
