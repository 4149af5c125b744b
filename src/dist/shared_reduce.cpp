#include "dist/shared_reduce.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dist/error.h"

namespace gantry::dist {

struct SharedReducer::Registry {
  struct Segment {
    char* map = nullptr;  // the whole mapping: size regions of `stride` bytes
    std::size_t map_bytes = 0;
    std::size_t stride = 0;
    std::int64_t numel = 0;
    at::ScalarType dtype = at::kFloat;
  };
  std::mutex mu;
  std::map<const void*, Segment> segments;  // keyed by this rank's region

  // With mu held: the segment whose region holds [p, p + bytes), or nullptr.
  const std::pair<const void* const, Segment>* containing(const void* p, std::size_t bytes) const {
    auto it = segments.upper_bound(p);
    if (it == segments.begin()) return nullptr;
    --it;
    const char* region = static_cast<const char*>(it->first);
    const std::size_t size = static_cast<std::size_t>(it->second.numel) * c10::elementSize(it->second.dtype);
    const char* q = static_cast<const char*>(p);
    return q >= region && q + bytes <= region + size ? &*it : nullptr;
  }

  void release(void* region) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = segments.find(region);
    if (it == segments.end()) return;
    munmap(it->second.map, it->second.map_bytes);
    segments.erase(it);
  }
};

namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kCacheLine = 64;

std::size_t round_up(std::size_t x, std::size_t to) { return (x + to - 1) / to * to; }

// A full fence around each barrier: the stores before it are visible to the peers after it.
void fenced_barrier(MPI_Comm comm) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  check_mpi(MPI_Barrier(comm), "MPI_Barrier (shared-memory all-reduce)");
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Over [lo, hi) of the regions of `part`'s segment (element indices): sum = ((r[0][i] + r[1][i]) + ...),
// then r[q][i] = sum for every q, in blocks that stay in cache. Only this slice's owner
// touches [lo, hi) of any region.
template <typename T>
void reduce_slice_into_all(const SharedReducer::Part& part, int regions, std::int64_t lo, std::int64_t hi) {
  std::vector<T*> r;
  for (int q = 0; q < regions; ++q)
    r.push_back(reinterpret_cast<T*>(part.map + part.stride * static_cast<std::size_t>(q)));
  constexpr std::int64_t kBlock = 2048;
  T acc[kBlock];
  for (std::int64_t b = lo; b < hi; b += kBlock) {
    const std::int64_t n = std::min(kBlock, hi - b);
    std::memcpy(acc, r[0] + b, static_cast<std::size_t>(n) * sizeof(T));
    for (std::size_t q = 1; q < r.size(); ++q) {
      const T* s = r[q] + b;
      for (std::int64_t i = 0; i < n; ++i) acc[i] += s[i];
    }
    for (T* dst : r) std::memcpy(dst + b, acc, static_cast<std::size_t>(n) * sizeof(T));
  }
}

}  // namespace

std::unique_ptr<SharedReducer> SharedReducer::create(MPI_Comm comm) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  // Split `comm` itself rather than reuse World's local size: a Communicator may wrap any communicator.
  MPI_Comm local;
  check_mpi(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
  int local_size = 0;
  MPI_Comm_size(local, &local_size);
  MPI_Comm_free(&local);
  if (size < 2 || local_size != size) return nullptr;
  return std::unique_ptr<SharedReducer>(new SharedReducer(comm, rank, size));
}

SharedReducer::SharedReducer(MPI_Comm comm, int rank, int size)
    : comm_(comm), rank_(rank), size_(size), registry_(std::make_shared<Registry>()) {}

at::Tensor SharedReducer::allocate(std::int64_t numel, at::ScalarType dtype) {
  if (dtype != at::kFloat && dtype != at::kDouble)
    throw DistError(std::string("shared-memory all-reduce: unsupported dtype ") + c10::toString(dtype));
  // Every rank must ask for the same buffer: compare (numel, dtype) by max and -min in one call.
  std::int64_t want[4] = {numel, static_cast<std::int64_t>(dtype), -numel, -static_cast<std::int64_t>(dtype)};
  std::int64_t got[4];
  check_mpi(MPI_Allreduce(want, got, 4, MPI_INT64_T, MPI_MAX, comm_), "MPI_Allreduce (shared buffer shape)");
  if (got[0] != -got[2] || got[1] != -got[3]) {
    throw DistError("shared-memory all-reduce: ranks asked for different buffers (" + std::to_string(-got[2]) + ".." +
                    std::to_string(got[0]) + " elements)");
  }
  const std::size_t bytes = static_cast<std::size_t>(numel) * c10::elementSize(dtype);
  const std::size_t stride = round_up(std::max<std::size_t>(bytes, 1), kPage);
  const std::size_t map_bytes = stride * static_cast<std::size_t>(size_);

  // Rank 0 makes the segment (reserving its pages, so a full /dev/shm is an error here and
  // not a SIGBUS later) and sends its name; an empty name means it failed.
  char name[64] = {0};
  if (rank_ == 0) {
    std::snprintf(name, sizeof name, "/gantry-%d-%lld", static_cast<int>(getpid()),
                  static_cast<long long>(next_segment_));
    const int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    bool ok = fd >= 0;
    if (ok) ok = posix_fallocate(fd, 0, static_cast<off_t>(map_bytes)) == 0;
    if (fd >= 0) close(fd);
    if (!ok) {
      if (fd >= 0) shm_unlink(name);
      name[0] = '\0';
    }
  }
  ++next_segment_;
  check_mpi(MPI_Bcast(name, sizeof name, MPI_CHAR, 0, comm_), "MPI_Bcast (shared buffer name)");
  char* map = nullptr;
  if (name[0] != '\0') {
    const int fd = shm_open(name, O_RDWR, 0600);
    if (fd >= 0) {
      void* m = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      close(fd);
      if (m != MAP_FAILED) map = static_cast<char*>(m);
    }
  }
  int ok = map != nullptr ? 1 : 0, all_ok = 0;
  check_mpi(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce (shared buffer mapped)");
  if (rank_ == 0 && name[0] != '\0') shm_unlink(name);  // every rank has opened it (or given up)
  if (!all_ok) {
    if (map != nullptr) munmap(map, map_bytes);
    return {};
  }

  char* region = map + stride * static_cast<std::size_t>(rank_);
  {
    std::lock_guard<std::mutex> lock(registry_->mu);
    registry_->segments[region] = Registry::Segment{map, map_bytes, stride, numel, dtype};
  }
  std::shared_ptr<Registry> registry = registry_;
  return at::from_blob(
      region, {numel}, [registry](void* p) { registry->release(p); }, at::TensorOptions().dtype(dtype));
}

std::optional<SharedReducer::Part> SharedReducer::locate(const at::Tensor& t) const {
  if (!t.defined() || !t.device().is_cpu() || !t.is_contiguous() || t.numel() == 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(registry_->mu);
  const auto* found = registry_->containing(t.data_ptr(), static_cast<std::size_t>(t.numel()) * t.element_size());
  if (found == nullptr || found->second.dtype != t.scalar_type()) return std::nullopt;
  const Registry::Segment& seg = found->second;
  Part part;
  part.map = seg.map;
  part.stride = seg.stride;
  part.dtype = seg.dtype;
  part.first = (static_cast<const char*>(t.data_ptr()) - static_cast<const char*>(found->first)) /
               static_cast<std::int64_t>(c10::elementSize(seg.dtype));
  part.numel = t.numel();
  return part;
}

void SharedReducer::all_reduce(const Part& part) {
  const std::int64_t numel = part.numel;
  const std::size_t elem = c10::elementSize(part.dtype);
  const std::int64_t align = static_cast<std::int64_t>(kCacheLine / elem);
  const std::int64_t per = ((numel + size_ - 1) / size_ + align - 1) / align * align;  // ceil(n / size), aligned
  // This rank's slice of the part, as element indices of the region.
  const std::int64_t lo = part.first + std::min(numel, per * rank_);
  const std::int64_t hi = part.first + std::min(numel, per * (rank_ + 1));

  fenced_barrier(comm_);  // every region holds its rank's input
  if (part.dtype == at::kFloat)
    reduce_slice_into_all<float>(part, size_, lo, hi);
  else
    reduce_slice_into_all<double>(part, size_, lo, hi);
  fenced_barrier(comm_);  // every slice's sum is in every region (and no region is refilled before)
}

}  // namespace gantry::dist
