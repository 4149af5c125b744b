// NCCL transport for CUDA tensors: unique id created on rank 0 and broadcast
// over MPI, ncclCommInitRank, collectives on a private stream ordered after
// the caller's current stream; waits poll ncclCommGetAsyncError and abort the
// communicator (ncclCommAbort) on error or timeout instead of hanging.
#pragma once
#include <mpi.h>
#include <nccl.h>
#include <cuda_runtime_api.h>

#include "dist/communicator.h"

namespace gantry::dist {

class NcclBackend : public Backend {
 public:
  NcclBackend(MPI_Comm comm, int device, double timeout_s);
  ~NcclBackend() override;

  WorkPtr all_reduce(at::Tensor t, ReduceOp op) override;
  WorkPtr broadcast(at::Tensor t, int root) override;
  at::Tensor all_gather(const at::Tensor& t, const std::vector<std::int64_t>& rows) override;
  void shutdown() override;

  // Blocks until `done` has fired, polling NCCL's async error; aborts the communicator on failure.
  void wait_event(cudaEvent_t done, const char* what);

 private:
  WorkPtr launch(const char* what, const at::Tensor& t, const std::function<ncclResult_t(cudaStream_t)>& op);

  int rank_ = 0, size_ = 1, device_ = 0;
  double timeout_s_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bool aborted_ = false;
};

}  // namespace gantry::dist
