#include "io/uring.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#if defined(__linux__) && __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#if defined(IORING_FEAT_RW_CUR_POS)  // shipped with IORING_OP_READ (Linux 5.6)
#define VQDB_IO_URING 1
#endif
#endif

#if VQDB_IO_URING
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace vqdb {

#if VQDB_IO_URING

namespace {

int sys_setup(unsigned entries, io_uring_params* p) {
  return int(syscall(__NR_io_uring_setup, entries, p));
}

int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags) {
  return int(syscall(__NR_io_uring_enter, fd, submit, wait, flags, nullptr, 0));
}

template <class T>
T* at(void* base, uint32_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

}  // namespace

// The three shared mappings of a ring: submission ring, completion ring (often one mapping
// with it), and the submission entries.
struct Uring::Rings {
  int fd = -1;
  void* sq = MAP_FAILED;
  size_t sq_bytes = 0;
  void* cq = MAP_FAILED;
  size_t cq_bytes = 0;
  io_uring_sqe* sqes = static_cast<io_uring_sqe*>(MAP_FAILED);
  size_t sqes_bytes = 0;
  unsigned entries = 0;
  unsigned *sq_tail = nullptr, *sq_mask = nullptr, *sq_array = nullptr;
  unsigned *cq_head = nullptr, *cq_tail = nullptr, *cq_mask = nullptr;
  io_uring_cqe* cqes = nullptr;

  ~Rings() {
    if (sqes != MAP_FAILED) munmap(sqes, sqes_bytes);
    if (cq != MAP_FAILED && cq != sq) munmap(cq, cq_bytes);
    if (sq != MAP_FAILED) munmap(sq, sq_bytes);
    if (fd >= 0) close(fd);
  }
};

std::unique_ptr<Uring> Uring::create(unsigned entries, std::string& why) {
  const char* env = std::getenv("VQDB_IO_URING");
  if (env && std::strcmp(env, "off") == 0) {
    why = "io_uring_setup: Operation not permitted (simulated by VQDB_IO_URING=off)";
    return nullptr;
  }
  io_uring_params p;
  std::memset(&p, 0, sizeof p);
  auto r = std::make_unique<Rings>();
  r->fd = sys_setup(entries, &p);
  if (r->fd < 0) {
    why = std::string("io_uring_setup: ") + std::strerror(errno);
    return nullptr;
  }
  if (!(p.features & IORING_FEAT_RW_CUR_POS)) {
    why = "io_uring: the kernel has no IORING_OP_READ (Linux 5.6+ needed)";
    return nullptr;
  }
  r->entries = p.sq_entries;
  r->sq_bytes = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  r->cq_bytes = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  const bool single = p.features & IORING_FEAT_SINGLE_MMAP;
  if (single) r->sq_bytes = r->cq_bytes = std::max(r->sq_bytes, r->cq_bytes);
  const int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED | MAP_POPULATE;
  r->sq = mmap(nullptr, r->sq_bytes, prot, flags, r->fd, IORING_OFF_SQ_RING);
  r->cq = single || r->sq == MAP_FAILED
              ? r->sq
              : mmap(nullptr, r->cq_bytes, prot, flags, r->fd, IORING_OFF_CQ_RING);
  r->sqes_bytes = p.sq_entries * sizeof(io_uring_sqe);
  r->sqes = static_cast<io_uring_sqe*>(
      mmap(nullptr, r->sqes_bytes, prot, flags, r->fd, IORING_OFF_SQES));
  if (r->sq == MAP_FAILED || r->cq == MAP_FAILED || r->sqes == MAP_FAILED) {
    why = std::string("io_uring ring mmap: ") + std::strerror(errno);
    return nullptr;
  }
  r->sq_tail = at<unsigned>(r->sq, p.sq_off.tail);
  r->sq_mask = at<unsigned>(r->sq, p.sq_off.ring_mask);
  r->sq_array = at<unsigned>(r->sq, p.sq_off.array);
  r->cq_head = at<unsigned>(r->cq, p.cq_off.head);
  r->cq_tail = at<unsigned>(r->cq, p.cq_off.tail);
  r->cq_mask = at<unsigned>(r->cq, p.cq_off.ring_mask);
  r->cqes = at<io_uring_cqe>(r->cq, p.cq_off.cqes);
  return std::unique_ptr<Uring>(new Uring(std::move(r)));
}

void Uring::read(int fd, const ReadRequest* requests, size_t n) {
  Rings& r = *r_;
  std::vector<uint32_t> done(n, 0);       // bytes read so far, per request
  std::vector<size_t> queue(n);           // requests to submit; short reads come back here
  for (size_t i = 0; i < n; ++i) queue[i] = i;
  size_t next = 0, finished = 0, in_flight = 0;
  unsigned unsubmitted = 0;  // queued in the ring but not yet taken by the kernel
  std::string error;
  while (finished < n) {
    // Fill the ring. After an error nothing new goes in: we only wait for what is in flight.
    unsigned tail = *r.sq_tail;
    unsigned added = 0;
    while (error.empty() && next < queue.size() && in_flight < r.entries) {
      const size_t i = queue[next++];
      const unsigned slot = tail & *r.sq_mask;
      io_uring_sqe* sqe = &r.sqes[slot];
      std::memset(sqe, 0, sizeof *sqe);
      sqe->opcode = IORING_OP_READ;
      sqe->fd = fd;
      sqe->off = requests[i].offset + done[i];
      sqe->addr = reinterpret_cast<uint64_t>(requests[i].buffer + done[i]);
      sqe->len = requests[i].bytes - done[i];
      sqe->user_data = i;
      r.sq_array[slot] = slot;
      ++tail;
      ++added;
      ++in_flight;
    }
    __atomic_store_n(r.sq_tail, tail, __ATOMIC_RELEASE);
    unsubmitted += added;
    if (in_flight == 0) break;  // an error stopped submissions and everything has completed
    const int got = sys_enter(r.fd, unsubmitted, 1, IORING_ENTER_GETEVENTS);
    if (got >= 0) {
      unsubmitted -= unsigned(got);
    } else if (errno != EINTR && errno != EAGAIN && errno != EBUSY) {
      // The kernel took nothing and failed: with reads still in flight we may not return
      // (they would write into freed buffers), so keep waiting for them.
      if (error.empty()) error = std::string("io_uring_enter: ") + std::strerror(errno);
      if (unsubmitted == in_flight) {  // nothing of ours is in the kernel: take it back, stop
        __atomic_store_n(r.sq_tail, tail - unsubmitted, __ATOMIC_RELEASE);
        break;
      }
    }
    unsigned head = *r.cq_head;
    const unsigned cq_tail = __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE);
    for (; head != cq_tail; ++head) {
      const io_uring_cqe& cqe = r.cqes[head & *r.cq_mask];
      const size_t i = size_t(cqe.user_data);
      --in_flight;
      if (cqe.res == -EAGAIN || cqe.res == -EINTR) {
        queue.push_back(i);  // transient: try again
      } else if (cqe.res <= 0) {
        if (error.empty())
          error = "read of " + std::to_string(requests[i].bytes) + " bytes at offset " +
                  std::to_string(requests[i].offset) + ": " +
                  (cqe.res < 0 ? std::strerror(-cqe.res) : "end of file (truncated?)");
        ++finished;
      } else if ((done[i] += uint32_t(cqe.res)) < requests[i].bytes) {
        queue.push_back(i);  // a short read: ask for the rest
      } else {
        ++finished;
      }
    }
    __atomic_store_n(r.cq_head, head, __ATOMIC_RELEASE);
    if (!error.empty() && in_flight == 0 && unsubmitted == 0) break;
  }
  if (!error.empty()) throw std::runtime_error(error);
}

#else  // no io_uring in this build

struct Uring::Rings {};

std::unique_ptr<Uring> Uring::create(unsigned, std::string& why) {
  why = "this build of vqdb has no io_uring (no <linux/io_uring.h> with IORING_OP_READ)";
  return nullptr;
}

void Uring::read(int, const ReadRequest*, size_t) {
  throw std::logic_error("io_uring is not available in this build");
}

#endif

Uring::Uring(std::unique_ptr<Rings> rings) : r_(std::move(rings)) {}
Uring::~Uring() = default;

}  // namespace vqdb
