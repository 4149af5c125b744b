// MPI transport for CPU tensors. Every collective runs on one communication
// thread, in the order it was issued, so that asynchronous all-reduces
// launched during backward overlap with compute and keep the same order on
// every rank. float16/bfloat16 are summed in float32 and rounded once.
// When every rank shares one host, buffers made by reduce_buffer() live in
// shared memory and are all-reduced there (dist/shared_reduce.h).
#pragma once
#include <mpi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "dist/communicator.h"
#include "dist/shared_reduce.h"

namespace gantry::dist {

class MpiBackend : public Backend {
 public:
  // `shared_memory`: use shared-memory buffers and reduces when all ranks share one host.
  MpiBackend(MPI_Comm comm, CollectiveWatchdog* watchdog, bool shared_memory);
  ~MpiBackend() override;

  WorkPtr all_reduce(at::Tensor t, ReduceOp op) override;
  WorkPtr broadcast(at::Tensor t, int root) override;
  at::Tensor all_gather(const at::Tensor& t, const std::vector<std::int64_t>& rows) override;
  void barrier();
  void shutdown() override;
  // Communicator::reduce_buffer for CPU tensors (collective).
  at::Tensor reduce_buffer(std::int64_t numel, at::ScalarType dtype);
  // Whether buffers from reduce_buffer() are reduced through shared memory.
  bool shared_memory() const { return shared_ != nullptr; }

  // Runs fn on the communication thread (after everything queued before it), as collective `desc`.
  std::shared_future<void> submit(std::string desc, std::function<void()> fn);

 private:
  struct Task {
    std::string desc;
    std::function<void()> fn;
    std::promise<void> done;
  };
  void run();

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  CollectiveWatchdog* watchdog_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::int64_t seq_ = 0;
  std::unique_ptr<SharedReducer> shared_;  // all ranks on one host (else nullptr)
  std::atomic<bool> warned_no_shared_{false};
  std::thread thread_;
};

}  // namespace gantry::dist
