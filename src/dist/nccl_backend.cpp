#include "dist/nccl_backend.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <chrono>
#include <thread>

#include "dist/error.h"

namespace gantry::dist {
namespace {

void check_cuda(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) throw DistError(std::string(what) + ": " + cudaGetErrorString(rc));
}

void check_nccl(ncclResult_t rc, const char* what) {
  if (rc != ncclSuccess) throw DistError(std::string(what) + ": " + ncclGetErrorString(rc));
}

ncclDataType_t nccl_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return ncclFloat32;
    case at::kDouble:
      return ncclFloat64;
    case at::kHalf:
      return ncclFloat16;
    case at::kBFloat16:
      return ncclBfloat16;
    case at::kLong:
      return ncclInt64;
    case at::kInt:
      return ncclInt32;
    case at::kByte:
      return ncclUint8;
    default:
      throw DistError(std::string("NCCL backend: no NCCL type for ") + c10::toString(t));
  }
}

class NcclWork : public Work {
 public:
  NcclWork(NcclBackend* backend, cudaEvent_t done, const char* what) : backend_(backend), done_(done), what_(what) {}
  ~NcclWork() override { cudaEventDestroy(done_); }
  void wait() override {
    if (!waited_) backend_->wait_event(done_, what_);
    waited_ = true;
  }

 private:
  NcclBackend* backend_;
  cudaEvent_t done_;
  const char* what_;
  bool waited_ = false;
};

}  // namespace

NcclBackend::NcclBackend(MPI_Comm comm, int device, double timeout_s) : device_(device), timeout_s_(timeout_s) {
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &size_);
  check_cuda(cudaSetDevice(device_), "cudaSetDevice");
  ncclUniqueId id;
  if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  check_mpi(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm), "MPI_Bcast(ncclUniqueId)");
  check_nccl(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  // A stream of LibTorch's pool, never destroyed: the caching allocator records
  // events on it (recordStream) for as long as tensors a collective used are alive,
  // which may be after shutdown (a stream of our own, destroyed there, made those
  // frees fail with "invalid device context").
  stream_ = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, static_cast<c10::DeviceIndex>(device_)).stream();
  check_mpi(MPI_Barrier(comm), "MPI_Barrier(after ncclCommInitRank)");
}

NcclBackend::~NcclBackend() { shutdown(); }

void NcclBackend::shutdown() {
  if (comm_ != nullptr) {
    if (aborted_) {
      ncclCommAbort(comm_);
    } else {
      cudaStreamSynchronize(stream_);
      ncclCommDestroy(comm_);
    }
    comm_ = nullptr;
  }
}

void NcclBackend::wait_event(cudaEvent_t done, const char* what) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const cudaError_t q = cudaEventQuery(done);
    if (q == cudaSuccess) return;
    if (q != cudaErrorNotReady) check_cuda(q, what);
    ncclResult_t async_err = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async_err);
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (async_err != ncclSuccess || (timeout_s_ > 0 && waited > timeout_s_)) {
      aborted_ = true;
      ncclCommAbort(comm_);
      comm_ = nullptr;
      if (async_err != ncclSuccess) check_nccl(async_err, what);
      throw DistError(std::string(what) + ": NCCL collective timed out after " + std::to_string(waited) + " s");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

WorkPtr NcclBackend::launch(const char* what, const at::Tensor& t,
                            const std::function<ncclResult_t(cudaStream_t)>& op) {
  if (comm_ == nullptr) throw DistError(std::string(what) + ": NCCL communicator is not usable (aborted or shut down)");
  c10::cuda::CUDAGuard guard(t.device());
  cudaStream_t current = c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
  // The collective runs on our stream after everything already queued on the caller's stream.
  cudaEvent_t ready, done;
  check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreate");
  check_cuda(cudaEventRecord(ready, current), "cudaEventRecord");
  check_cuda(cudaStreamWaitEvent(stream_, ready, 0), "cudaStreamWaitEvent");
  cudaEventDestroy(ready);
  check_nccl(op(stream_), what);
  // The caching allocator must not reuse t's memory before our stream is done with it.
  c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(),
                                                c10::cuda::getStreamFromExternal(stream_, t.device().index()));
  check_cuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate");
  check_cuda(cudaEventRecord(done, stream_), "cudaEventRecord");
  return std::make_shared<NcclWork>(this, done, what);
}

WorkPtr NcclBackend::all_reduce(at::Tensor t, ReduceOp op) {
  if (op == ReduceOp::kAverage && !at::isFloatingType(t.scalar_type())) {
    throw DistError("all_reduce: average is defined for floating tensors only");
  }
  const ncclRedOp_t red = op == ReduceOp::kAverage ? ncclAvg : ncclSum;
  return launch("ncclAllReduce", t, [&](cudaStream_t s) {
    return ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t.scalar_type()), red, comm_, s);
  });
}

WorkPtr NcclBackend::broadcast(at::Tensor t, int root) {
  return launch("ncclBroadcast", t, [&](cudaStream_t s) {
    return ncclBroadcast(t.data_ptr(), t.data_ptr(), t.numel() * t.element_size(), ncclUint8, root, comm_, s);
  });
}

at::Tensor NcclBackend::all_gather(const at::Tensor& t, const std::vector<std::int64_t>& rows) {
  // NCCL gathers equal sizes: pad every rank's rows to the largest, then cut.
  std::int64_t max_rows = 0;
  for (auto r : rows) max_rows = std::max(max_rows, r);
  std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
  shape[0] = max_rows;
  at::Tensor padded = at::zeros(shape, t.options());
  padded.narrow(0, 0, t.size(0)).copy_(t);
  shape.insert(shape.begin(), size_);
  at::Tensor out = at::empty(shape, t.options());
  launch("ncclAllGather", padded, [&](cudaStream_t s) {
    return ncclAllGather(padded.data_ptr(), out.data_ptr(), padded.numel() * padded.element_size(), ncclUint8, comm_,
                         s);
  })->wait();
  std::vector<at::Tensor> parts;
  for (int r = 0; r < size_; ++r) parts.push_back(out[r].narrow(0, 0, rows[r]));
  return at::cat(parts, 0);
}

}  // namespace gantry::dist
