// A minimal io_uring ring over the raw syscalls (no liburing): submit many positioned reads at
// once and wait for all of them. The one place besides the pread fallback where C++ reads a
// file, and only into buffers its caller owns.
//
// Built only where <linux/io_uring.h> exists and knows IORING_OP_READ (Linux 5.6+ headers);
// elsewhere Uring::create() reports "not built with io_uring" and callers fall back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace vqdb {

struct ReadRequest {
  uint64_t offset;  // in the file
  uint8_t* buffer;
  uint32_t bytes;
};

class Uring {
 public:
  // A ring of `entries` submission slots, or nullptr with `why` set when the kernel refuses
  // (EPERM under seccomp or io_uring_disabled, ENOSYS, ENOMEM from locked-memory limits), the
  // kernel lacks IORING_OP_READ, or the build has no io_uring. The environment variable
  // VQDB_IO_URING=off makes setup fail as a refusal would (tests of the fallback).
  static std::unique_ptr<Uring> create(unsigned entries, std::string& why);
  ~Uring();
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;

  // Reads every request in full from `fd`, keeping up to `entries` reads in flight; resubmits
  // short reads. Throws std::runtime_error (naming the first failed offset) only after every
  // read it submitted has completed, so no buffer is written after it returns. One thread at
  // a time per ring.
  void read(int fd, const ReadRequest* requests, size_t n);

 private:
  struct Rings;
  explicit Uring(std::unique_ptr<Rings> rings);
  std::unique_ptr<Rings> r_;
};

}  // namespace vqdb
