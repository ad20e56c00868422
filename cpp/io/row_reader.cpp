#include "io/row_reader.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace vqdb {

namespace {

constexpr unsigned kRingEntries = 256;  // reads in flight per ring
constexpr size_t kPreadThreads = 16;    // blocking reads in flight in the fallback

// Threads that block in pread on behalf of callers: the I/O depth of the fallback. Started on
// first use and shared by every reader; a caller works on its own job too, so a job always
// finishes even while the pool is busy with others.
class PreadPool {
 public:
  static PreadPool& instance() {
    static PreadPool* pool = new PreadPool();  // never destroyed: threads outlive statics
    return *pool;
  }

  void run(size_t n, const std::function<void(size_t)>& fn) {
    auto job = std::make_shared<Job>(n, fn);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(job);
    }
    // Wake only as many workers as there are rows besides the caller's: waking all sixteen
    // for a handful of cached rows costs more than reading them.
    for (size_t t = 0, helpers = std::min(n - 1, kPreadThreads); t < helpers; ++t)
      wake_.notify_one();
    work(*job);
    {
      std::unique_lock<std::mutex> lock(job->mutex);
      job->finished.wait(lock, [&] { return job->done.load() == job->n; });
    }
    std::lock_guard<std::mutex> lock(mutex_);  // if no worker has dropped it yet
    const auto it = std::find(jobs_.begin(), jobs_.end(), job);
    if (it != jobs_.end()) jobs_.erase(it);
  }

 private:
  struct Job {
    Job(size_t n_, const std::function<void(size_t)>& fn_) : n(n_), fn(fn_) {}
    size_t n;
    const std::function<void(size_t)>& fn;
    std::atomic<size_t> next{0}, done{0};
    std::mutex mutex;
    std::condition_variable finished;
  };

  PreadPool() {
    for (size_t t = 0; t < kPreadThreads; ++t) std::thread([this] { loop(); }).detach();
  }

  static void work(Job& job) {
    for (size_t i; (i = job.next.fetch_add(1)) < job.n;) {
      job.fn(i);
      if (job.done.fetch_add(1) + 1 == job.n) {
        std::lock_guard<std::mutex> lock(job.mutex);
        job.finished.notify_all();
      }
    }
  }

  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return !jobs_.empty(); });
        job = jobs_.front();
        if (job->next.load() >= job->n) {  // all handed out: nothing left for the pool
          jobs_.pop_front();
          continue;
        }
      }
      work(*job);
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> jobs_;
};

std::string describe(const ReadRequest& r) {
  return "read of " + std::to_string(r.bytes) + " bytes at offset " + std::to_string(r.offset);
}

}  // namespace

RowReader::RowReader(int fd, uint64_t offset, size_t row_bytes, size_t rows, ReadMethod method,
                     std::string name)
    : fd_(fcntl(fd, F_DUPFD_CLOEXEC, 0)), offset_(offset), row_bytes_(row_bytes), rows_(rows),
      method_(method), name_(std::move(name)) {
  if (fd_ < 0) throw ReadError(name_ + ": " + std::strerror(errno));
  if (row_bytes_ == 0 || row_bytes_ > UINT32_MAX) {
    close(fd_);
    throw std::invalid_argument(name_ + ": rows must be 1 byte to 4 GB wide");
  }
#if defined(POSIX_FADV_RANDOM)
  // Each read wants one row: the default readahead would fetch 128 KB around each of them.
  posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM);
#endif
  if (method_ == ReadMethod::io_uring) {
    auto ring = Uring::create(kRingEntries, fallback_);
    if (ring)
      rings_.push_back(std::move(ring));
    else
      method_ = ReadMethod::pread;
  }
}

RowReader::~RowReader() { close(fd_); }

std::unique_ptr<Uring> RowReader::acquire_ring() const {
  {
    std::lock_guard<std::mutex> lock(rings_lock_);
    if (!rings_.empty()) {
      auto ring = std::move(rings_.back());
      rings_.pop_back();
      return ring;
    }
  }
  std::string why;
  return Uring::create(kRingEntries, why);  // nullptr (out of memory, say): pread this time
}

void RowReader::release_ring(std::unique_ptr<Uring> ring) const {
  std::lock_guard<std::mutex> lock(rings_lock_);
  rings_.push_back(std::move(ring));
}

void RowReader::read_pread(const ReadRequest* requests, size_t n) const {
  std::mutex error_lock;
  std::string error;
  auto fail = [&](const ReadRequest& r, const char* why) {
    std::lock_guard<std::mutex> lock(error_lock);
    if (error.empty()) error = describe(r) + ": " + why;
  };
  // First, without blocking, whatever the page cache holds: handing cached rows to the pool
  // would cost more in thread wake-ups than the copies themselves.
  std::vector<ReadRequest> rest;
  for (size_t i = 0; i < n; ++i) {
    ReadRequest r = requests[i];
#if defined(RWF_NOWAIT)
    while (r.bytes > 0) {
      iovec io{r.buffer, r.bytes};
      const ssize_t k = preadv2(fd_, &io, 1, off_t(r.offset), RWF_NOWAIT);
      if (k <= 0) break;  // EAGAIN: not cached; EOF and errors: the blocking read reports them
      r.offset += uint64_t(k);
      r.buffer += k;
      r.bytes -= uint32_t(k);
    }
    if (r.bytes == 0) continue;
#endif
    rest.push_back(r);
  }
  auto one = [&](size_t i) {
    const ReadRequest& r = rest[i];
    for (size_t got = 0; got < r.bytes;) {
      const ssize_t k = pread(fd_, r.buffer + got, r.bytes - got, off_t(r.offset + got));
      if (k > 0) {
        got += size_t(k);
      } else if (k == 0) {
        return fail(r, "end of file (truncated?)");
      } else if (errno != EINTR) {
        return fail(r, std::strerror(errno));
      }
    }
  };
  if (rest.size() == 1) {
    one(0);
  } else if (rest.size() > 1) {
    const std::function<void(size_t)> fn = one;
    PreadPool::instance().run(rest.size(), fn);
  }
  if (!error.empty()) throw std::runtime_error(error);
}

void RowReader::read(const uint32_t* ids, size_t n, uint8_t* out) const {
  if (n == 0) return;
  std::vector<ReadRequest> requests(n);
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] >= rows_)
      throw std::out_of_range(name_ + ": row " + std::to_string(ids[i]) + " of " +
                              std::to_string(rows_));
    requests[i] = {offset_ + uint64_t(ids[i]) * row_bytes_, out + i * row_bytes_,
                   uint32_t(row_bytes_)};
  }
  try {
    std::unique_ptr<Uring> ring;
    if (method_ == ReadMethod::io_uring) ring = acquire_ring();
    if (!ring) return read_pread(requests.data(), n);
    // A failed read leaves the ring drained (Uring::read waits for all it submitted), so it
    // goes back to the pool either way.
    struct Return {
      const RowReader* reader;
      std::unique_ptr<Uring>& ring;
      ~Return() { reader->release_ring(std::move(ring)); }
    } back{this, ring};
    ring->read(fd_, requests.data(), n);
  } catch (const std::runtime_error& e) {
    throw ReadError(name_ + ": " + e.what());
  }
}

bool resident(const void* p, size_t bytes) {
#if defined(__linux__)
  static const size_t page = size_t(sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + bytes;
  const size_t pages = (end - first + page - 1) / page;
  unsigned char small[16];
  std::vector<unsigned char> large(pages > 16 ? pages : 0);
  unsigned char* vec = pages > 16 ? large.data() : small;
  if (mincore(reinterpret_cast<void*>(first), end - first, vec) != 0) return false;
  for (size_t i = 0; i < pages; ++i)
    if (!(vec[i] & 1)) return false;
  return true;
#else
  (void)p;
  (void)bytes;
  return true;
#endif
}

}  // namespace vqdb
