// Collectives over the world: all_reduce (sum, average), broadcast,
// all_gather, barrier. CPU tensors go through MPI, CUDA tensors through NCCL.
// Every rank must issue the same collectives in the same order with tensors
// of the same shape and dtype (all_gather: dim 0 may differ per rank).
// Supported dtypes: float32, float64, bfloat16, float16, int64 (and int32,
// uint8 for bookkeeping). Errors are DistError.
#pragma once
#include <mpi.h>
#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist/collective_watchdog.h"

namespace gantry::dist {

enum class ReduceOp { kSum, kAverage };

// A collective that has been launched; wait() blocks until its result is in
// place (for CUDA: usable by work queued afterwards on the current stream).
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};
using WorkPtr = std::shared_ptr<Work>;

// One transport. Tensors handed to a backend are dense and contiguous.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual WorkPtr all_reduce(at::Tensor t, ReduceOp op) = 0;
  virtual WorkPtr broadcast(at::Tensor t, int root) = 0;
  // Concatenation along dim 0 of every rank's `t`; `rows[r]` is rank r's dim 0.
  virtual at::Tensor all_gather(const at::Tensor& t, const std::vector<std::int64_t>& rows) = 0;
  virtual void shutdown() = 0;
};

class MpiBackend;

class Communicator {
 public:
  // `cuda_device` >= 0 enables the NCCL backend on that device (if built with NCCL).
  // `shared_memory`: when all ranks share one host, reduce_buffer()s of CPU tensors live in
  // shared memory and are all-reduced there instead of through MPI (dist/shared_reduce.h).
  Communicator(MPI_Comm comm, const WatchdogOptions& watchdog, bool thread_multiple, int cuda_device,
               bool shared_memory = true);
  ~Communicator();

  int rank() const { return rank_; }
  int size() const { return size_; }

  // In place; a non-contiguous tensor is reduced through a contiguous copy.
  void all_reduce(at::Tensor& t, ReduceOp op = ReduceOp::kSum);
  // In place, returns at once; `t` must be contiguous and stay untouched until wait().
  WorkPtr all_reduce_async(const at::Tensor& t, ReduceOp op = ReduceOp::kSum);
  // A zero-filled 1-D buffer of `numel` elements meant to be all-reduced again and again
  // (GradSync's buckets), on `options`' device and dtype. Collective: every rank calls it in
  // the same order with the same numel and dtype. CPU float32/float64 buffers of a world on
  // one host live in shared memory, where their all-reduce reads the peers' copies directly.
  at::Tensor reduce_buffer(std::int64_t numel, const at::TensorOptions& options);
  // Whether CPU reduce_buffer()s are reduced through shared memory (all ranks on one host).
  bool shared_memory_reduce() const;
  void broadcast(at::Tensor& t, int root = 0);
  // Concatenation along dim 0 (rank order). Trailing shape and dtype must agree.
  // `rows`, if given, receives every rank's dim 0.
  at::Tensor all_gather(const at::Tensor& t, std::vector<std::int64_t>* rows = nullptr);
  // Host-level barrier, always over MPI (queued behind pending MPI collectives).
  void barrier();

  // Host seconds this communicator has spent blocked in its synchronous collectives
  // (all_reduce, broadcast, all_gather, barrier) since it was made; GradSync's
  // asynchronous reduces are timed by GradSync. On CUDA the NCCL calls are
  // stream-ordered, so their host time is only the launch.
  double blocked_seconds() const { return blocked_ns_.load(std::memory_order_relaxed) * 1e-9; }
  // How many such collectives, and their bytes (this rank's input), since it was made.
  std::int64_t blocked_calls() const { return blocked_calls_.load(std::memory_order_relaxed); }
  std::int64_t blocked_bytes() const { return blocked_bytes_.load(std::memory_order_relaxed); }

  // The MPI communicator (for bootstrap-level exchanges such as hashes of strings).
  MPI_Comm mpi_comm() const { return comm_; }
  void shutdown();

 private:
  Backend& backend_for(const at::Tensor& t, const char* op);

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
  std::unique_ptr<MpiBackend> mpi_;
  std::unique_ptr<Backend> nccl_;
  bool shut_down_ = false;
  std::atomic<std::int64_t> blocked_ns_{0}, blocked_calls_{0}, blocked_bytes_{0};
  friend class BlockedTimer;
};

// Checks that `t`'s dtype is one the communicator reduces; throws DistError naming `op`.
void check_collective_dtype(const at::Tensor& t, const char* op);

}  // namespace gantry::dist
