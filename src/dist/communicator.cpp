#include "dist/communicator.h"

#include <ATen/ATen.h>

#include <chrono>
#include <sstream>

#include "dist/error.h"
#include "dist/mpi_backend.h"
#ifdef GANTRY_HAVE_NCCL
#include "dist/nccl_backend.h"
#endif

namespace gantry::dist {
namespace {
// "Float[*,3,4]" from an all_gather metadata row (dtype, ndim, trailing dims).
std::string describe_meta(const at::Tensor& row) {
  std::ostringstream out;
  out << c10::toString(static_cast<at::ScalarType>(row[1].item<std::int64_t>())) << "[*";
  for (std::int64_t d = 1; d < row[2].item<std::int64_t>(); ++d) out << "," << row[2 + d].item<std::int64_t>();
  out << "]";
  return out.str();
}
}  // namespace

void check_collective_dtype(const at::Tensor& t, const char* op) {
  switch (t.scalar_type()) {
    case at::kFloat:
    case at::kDouble:
    case at::kHalf:
    case at::kBFloat16:
    case at::kLong:
    case at::kInt:
    case at::kByte:
      return;
    default:
      throw DistError(std::string(op) + ": unsupported dtype " + c10::toString(t.scalar_type()));
  }
}

Communicator::Communicator(MPI_Comm comm, const WatchdogOptions& watchdog, bool thread_multiple, int cuda_device,
                           bool shared_memory)
    : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  watchdog_ = std::make_unique<CollectiveWatchdog>(comm_, watchdog, thread_multiple);
  mpi_ = std::make_unique<MpiBackend>(comm_, watchdog_.get(), shared_memory);
  if (cuda_device >= 0) {
#ifdef GANTRY_HAVE_NCCL
    nccl_ = std::make_unique<NcclBackend>(comm_, cuda_device, watchdog.timeout_s);
#else
    throw DistError("CUDA device requested but gantry was built without NCCL");
#endif
  }
}

Communicator::~Communicator() { shutdown(); }

void Communicator::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (nccl_) nccl_->shutdown();
  mpi_->shutdown();
  watchdog_->stop();
}

Backend& Communicator::backend_for(const at::Tensor& t, const char* op) {
  if (!t.defined()) throw DistError(std::string(op) + ": undefined tensor");
  check_collective_dtype(t, op);
  if (t.is_sparse()) throw DistError(std::string(op) + ": sparse tensors are not supported");
  if (t.device().is_cpu()) return *mpi_;
  if (t.device().is_cuda() && nccl_) return *nccl_;
  throw DistError(std::string(op) + ": no backend for device " + t.device().str());
}

// Adds the host time of one synchronous collective to blocked_ns_.
class BlockedTimer {
 public:
  BlockedTimer(Communicator& c, const at::Tensor* t) : c_(c), t0_(std::chrono::steady_clock::now()) {
    c_.blocked_calls_.fetch_add(1, std::memory_order_relaxed);
    if (t && t->defined()) c_.blocked_bytes_.fetch_add(t->numel() * t->element_size(), std::memory_order_relaxed);
  }
  ~BlockedTimer() {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0_);
    c_.blocked_ns_.fetch_add(ns.count(), std::memory_order_relaxed);
  }

 private:
  Communicator& c_;
  std::chrono::steady_clock::time_point t0_;
};

void Communicator::all_reduce(at::Tensor& t, ReduceOp op) {
  BlockedTimer timer(*this, &t);
  Backend& b = backend_for(t, "all_reduce");
  if (t.is_contiguous()) {
    b.all_reduce(t, op)->wait();
  } else {
    at::Tensor tmp = t.contiguous();
    b.all_reduce(tmp, op)->wait();
    t.copy_(tmp);
  }
}

WorkPtr Communicator::all_reduce_async(const at::Tensor& t, ReduceOp op) {
  Backend& b = backend_for(t, "all_reduce_async");
  if (!t.is_contiguous()) throw DistError("all_reduce_async: tensor must be contiguous");
  return b.all_reduce(t, op);
}

at::Tensor Communicator::reduce_buffer(std::int64_t numel, const at::TensorOptions& options) {
  if (numel < 0) throw DistError("reduce_buffer: negative size");
  const at::Device device = options.device();
  if (device.is_cpu()) return mpi_->reduce_buffer(numel, options.dtype().toScalarType());
  return at::zeros({numel}, options);
}

bool Communicator::shared_memory_reduce() const { return mpi_->shared_memory(); }

void Communicator::broadcast(at::Tensor& t, int root) {
  BlockedTimer timer(*this, &t);
  Backend& b = backend_for(t, "broadcast");
  if (root < 0 || root >= size_) throw DistError("broadcast: root " + std::to_string(root) + " out of range");
  if (t.is_contiguous()) {
    b.broadcast(t, root)->wait();
  } else {
    at::Tensor tmp = t.contiguous();
    b.broadcast(tmp, root)->wait();
    t.copy_(tmp);
  }
}

at::Tensor Communicator::all_gather(const at::Tensor& t, std::vector<std::int64_t>* rows_out) {
  BlockedTimer timer(*this, &t);
  Backend& b = backend_for(t, "all_gather");
  at::Tensor in = t.dim() == 0 ? t.reshape({1}) : t;
  in = in.contiguous();
  // Exchange (rows, dtype, rank, trailing shape) so that a mismatch is an error, not garbage.
  constexpr int kMaxDims = 8;
  if (in.dim() > kMaxDims) throw DistError("all_gather: more than 8 dimensions");
  constexpr int kMeta = 3 + kMaxDims;
  at::Tensor meta = at::full({kMeta}, -1, at::kLong);
  auto m = meta.accessor<std::int64_t, 1>();
  m[0] = in.size(0);
  m[1] = static_cast<std::int64_t>(in.scalar_type());
  m[2] = in.dim();
  for (int d = 1; d < in.dim(); ++d) m[2 + d] = in.size(d);
  at::Tensor all = mpi_->all_gather(meta, std::vector<std::int64_t>(size_, kMeta)).view({size_, kMeta});
  std::vector<std::int64_t> rows(size_);
  for (int r = 0; r < size_; ++r) {
    rows[r] = all[r][0].item<std::int64_t>();
    if (!all[r].slice(0, 1).equal(meta.slice(0, 1))) {
      throw DistError("all_gather: rank " + std::to_string(r) + " sends " + describe_meta(all[r]) + " but rank " +
                      std::to_string(rank_) + " sends " + describe_meta(meta));
    }
  }
  if (rows_out != nullptr) *rows_out = rows;
  return b.all_gather(in, rows);
}

void Communicator::barrier() {
  BlockedTimer timer(*this, nullptr);
  mpi_->barrier();
}

}  // namespace gantry::dist
