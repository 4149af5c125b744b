#include "dist/mpi_backend.h"

#include <ATen/ATen.h>

#include <climits>
#include <cstdio>
#include <string>

#include "dist/error.h"

namespace gantry::dist {
namespace {

// MPI counts are int: large tensors go in chunks of this many elements.
constexpr std::int64_t kMaxChunk = std::int64_t{1} << 30;

MPI_Datatype mpi_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kLong:
      return MPI_INT64_T;
    case at::kInt:
      return MPI_INT32_T;
    case at::kByte:
      return MPI_UINT8_T;
    default:
      throw DistError(std::string("MPI backend: no MPI type for ") + c10::toString(t));
  }
}

std::string describe(const char* op, const at::Tensor& t) {
  return std::string(op) + " " + c10::toString(t.scalar_type()) + "[" + std::to_string(t.numel()) + "]";
}

class FutureWork : public Work {
 public:
  explicit FutureWork(std::shared_future<void> f) : f_(std::move(f)) {}
  void wait() override { f_.get(); }

 private:
  std::shared_future<void> f_;
};

}  // namespace

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw DistError(std::string(what) + ": " + std::string(msg, len));
}

MpiBackend::MpiBackend(MPI_Comm comm, CollectiveWatchdog* watchdog, bool shared_memory)
    : comm_(comm), watchdog_(watchdog) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  if (shared_memory) shared_ = SharedReducer::create(comm_);  // collective, before the thread starts
  thread_ = std::thread([this] { run(); });
}

MpiBackend::~MpiBackend() { shutdown(); }

void MpiBackend::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_future<void> MpiBackend::submit(std::string desc, std::function<void()> fn) {
  Task task{std::move(desc), std::move(fn), {}};
  std::shared_future<void> fut = task.done.get_future().share();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw DistError("MPI backend: collective issued after shutdown");
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return fut;
}

void MpiBackend::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    const std::int64_t seq = seq_++;
    if (watchdog_) watchdog_->begin(seq, task.desc);
    try {
      task.fn();
      if (watchdog_) watchdog_->end(seq);
      task.done.set_value();
    } catch (...) {
      if (watchdog_) watchdog_->end(seq);
      task.done.set_exception(std::current_exception());
    }
  }
}

WorkPtr MpiBackend::all_reduce(at::Tensor t, ReduceOp op) {
  const bool is_float = at::isFloatingType(t.scalar_type());
  if (op == ReduceOp::kAverage && !is_float) {
    throw DistError(std::string("all_reduce: average is defined for floating tensors only, got ") +
                    c10::toString(t.scalar_type()));
  }
  if (const auto where = shared_ ? shared_->locate(t) : std::nullopt) {
    auto fn = [this, t, op, part = *where] {  // t keeps the part's mapping alive
      shared_->all_reduce(part);
      if (op == ReduceOp::kAverage) t.div_(size_);
    };
    return std::make_shared<FutureWork>(submit(describe("all_reduce (shared memory)", t), std::move(fn)));
  }
  auto fn = [this, t, op]() mutable {
    // Half types have no MPI sum: reduce a float32 copy, round once at the end.
    const bool half = t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
    at::Tensor work = half ? t.to(at::kFloat) : t;
    const MPI_Datatype type = mpi_type(work.scalar_type());
    const std::int64_t n = work.numel();
    char* base = static_cast<char*>(work.data_ptr());
    for (std::int64_t off = 0; off < n; off += kMaxChunk) {
      const int count = static_cast<int>(std::min(kMaxChunk, n - off));
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, base + off * work.element_size(), count, type, MPI_SUM, comm_),
                "MPI_Allreduce");
    }
    if (op == ReduceOp::kAverage) work.div_(size_);
    if (half) t.copy_(work);
  };
  if (t.numel() == 0) return std::make_shared<FutureWork>(submit(describe("all_reduce", t), [] {}));
  return std::make_shared<FutureWork>(submit(describe("all_reduce", t), std::move(fn)));
}

WorkPtr MpiBackend::broadcast(at::Tensor t, int root) {
  // Bytes are exact for every dtype.
  auto fn = [this, t, root] {
    const std::int64_t n = t.numel() * t.element_size();
    char* base = static_cast<char*>(t.data_ptr());
    for (std::int64_t off = 0; off < n; off += kMaxChunk) {
      const int count = static_cast<int>(std::min(kMaxChunk, n - off));
      check_mpi(MPI_Bcast(base + off, count, MPI_BYTE, root, comm_), "MPI_Bcast");
    }
  };
  return std::make_shared<FutureWork>(submit(describe("broadcast", t), std::move(fn)));
}

at::Tensor MpiBackend::all_gather(const at::Tensor& t, const std::vector<std::int64_t>& rows) {
  // Bytes per row from the trailing shape (not numel / rows: a rank may send 0 rows).
  std::int64_t row_bytes = t.element_size();
  for (std::int64_t d = 1; d < t.dim(); ++d) row_bytes *= t.size(d);
  std::int64_t total_rows = 0;
  std::vector<int> counts(size_), displs(size_);
  for (int r = 0; r < size_; ++r) {
    const std::int64_t bytes = rows[r] * row_bytes;
    const std::int64_t disp = total_rows * row_bytes;
    if (bytes > INT_MAX || disp > INT_MAX) throw DistError("all_gather: more than 2 GiB per call is not supported");
    counts[r] = static_cast<int>(bytes);
    displs[r] = static_cast<int>(disp);
    total_rows += rows[r];
  }
  std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
  if (shape.empty()) shape.push_back(1);
  shape[0] = total_rows;
  at::Tensor out = at::empty(shape, t.options());
  at::Tensor in = t;
  auto fut = submit(describe("all_gather", t), [this, in, out, counts, displs] {
    check_mpi(MPI_Allgatherv(in.data_ptr(), counts[rank_], MPI_BYTE, out.data_ptr(), counts.data(), displs.data(),
                             MPI_BYTE, comm_),
              "MPI_Allgatherv");
  });
  fut.get();
  return out;
}

at::Tensor MpiBackend::reduce_buffer(std::int64_t numel, at::ScalarType dtype) {
  if (shared_ && (dtype == at::kFloat || dtype == at::kDouble)) {
    at::Tensor t;
    submit("reduce_buffer", [&] { t = shared_->allocate(numel, dtype); }).get();
    if (t.defined()) return t;
    // Some rank could not map shared memory (a small /dev/shm, as in containers by default):
    // a private buffer on every rank, reduced by MPI. Said once per process, by rank 0.
    if (rank_ == 0 && !warned_no_shared_.exchange(true)) {
      std::fprintf(stderr,
                   "gantry: shared memory for a %.1f MiB gradient buffer could not be mapped on some rank "
                   "(/dev/shm too small?); such buffers are reduced through MPI\n",
                   static_cast<double>(numel) * static_cast<double>(c10::elementSize(dtype)) / (1 << 20));
    }
  }
  return at::zeros({numel}, at::TensorOptions().dtype(dtype));
}

void MpiBackend::barrier() {
  submit("barrier", [this] { check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }).get();
}

}  // namespace gantry::dist
