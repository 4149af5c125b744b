// All-reduce between ranks of one host through shared memory: the buffers that
// are reduced again and again (GradSync's buckets) live in one POSIX
// shared-memory segment per buffer, one region per rank, so a rank reads its
// peers' regions directly instead of copying them through MPI's transport.
//
// Why: on one host MPI_Allreduce moves every byte through MPI's shared-memory
// FIFOs (copy in, copy out) on top of the copy that packs gradients into a
// bucket; here the pack writes straight into the region the peers read.
// Algorithm for N ranks and a buffer of n elements (two MPI_Barriers):
//   barrier                 every region holds its rank's input
//   reduce and spread       rank r sums slice r (n/N elements) of all regions in
//                           rank order, ((x0 + x1) + x2) + ..., and writes the
//                           sum into slice r of every region: only slice r's
//                           owner touches slice r anywhere, so nothing races
//   barrier                 every region holds the whole sum; nobody refills
//                           a region before its peers are done writing into it
// A rank reads n and writes n elements (MPI's ring: ~2n each way through
// its FIFOs, plus the copies in and out of them).
// Every rank ends with the same bits, and the sum order does not depend on
// which rank owns a slice. Slices are cache-line aligned (no false sharing).
// The barriers are MPI's, so a reduce is ordered with the backend's other
// collectives and covered by the collective watchdog like them.
//
// Segments are unlinked as soon as every rank has mapped them (nothing is left
// in /dev/shm after a crash); a failure on any rank (no /dev/shm, full) makes
// allocate() return an undefined tensor on every rank, and the caller falls
// back to a private buffer reduced by MPI.
#pragma once
#include <mpi.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

namespace gantry::dist {

class SharedReducer {
 public:
  // A reducer for `comm` when all of its ranks share one host and there are at
  // least two; nullptr otherwise. Collective over `comm`.
  static std::unique_ptr<SharedReducer> create(MPI_Comm comm);

  // A zero-filled 1-D tensor of `numel` elements of `dtype` (float32 or float64)
  // in shared memory, or an undefined tensor when some rank could not map one.
  // Collective: every rank passes the same numel and dtype (DistError otherwise).
  at::Tensor allocate(std::int64_t numel, at::ScalarType dtype);
  // Where a part of a shared buffer lies: its segment's mapping and the part's elements in
  // this rank's region. Valid while a tensor that views the buffer is alive.
  struct Part {
    char* map = nullptr;  // the segment: one region of `stride` bytes per rank
    std::size_t stride = 0;
    at::ScalarType dtype = at::kFloat;
    std::int64_t first = 0;  // the part's first element within the region
    std::int64_t numel = 0;
  };
  // `t`'s place when it is a contiguous, non-empty part of a tensor allocate() returned.
  std::optional<Part> locate(const at::Tensor& t) const;
  // In place sum over the ranks of such a part (every rank passes the same part).
  // Collective; runs on the caller's thread (the MPI backend's communication thread).
  void all_reduce(const Part& part);

  // Shared with each segment's deleter, which may run after the reducer is gone.
  struct Registry;

 private:
  SharedReducer(MPI_Comm comm, int rank, int size);
  MPI_Comm comm_;
  int rank_, size_;
  std::int64_t next_segment_ = 0;
  std::shared_ptr<Registry> registry_;
};

}  // namespace gantry::dist
