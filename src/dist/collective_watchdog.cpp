#include "dist/collective_watchdog.h"

#include <cstdio>
#include <sstream>
#include <vector>

namespace gantry::dist {
namespace {
constexpr int kReportTag = 7301;

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

CollectiveWatchdog::CollectiveWatchdog(MPI_Comm comm, const WatchdogOptions& options, bool thread_multiple)
    : options_(options), cross_rank_(thread_multiple) {
  MPI_Comm_dup(comm, &comm_);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  if (size_ == 1) cross_rank_ = false;
  thread_ = std::thread([this] { run(); });
}

CollectiveWatchdog::~CollectiveWatchdog() { stop(); }

void CollectiveWatchdog::begin(std::int64_t seq, std::string description) {
  std::lock_guard<std::mutex> lock(mu_);
  inflight_seq_ = seq;
  inflight_desc_ = std::move(description);
  inflight_start_ = Clock::now();
  local_warned_ = false;
}

void CollectiveWatchdog::end(std::int64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  if (inflight_seq_ == seq) inflight_seq_ = -1;
}

void CollectiveWatchdog::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (send_req_ != MPI_REQUEST_NULL) {
    MPI_Cancel(&send_req_);
    MPI_Wait(&send_req_, MPI_STATUS_IGNORE);
  }
  if (cross_rank_ && rank_ == 0) poll_reports();  // drain late reports
  MPI_Comm_free(&comm_);
}

void CollectiveWatchdog::run() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto poll = std::chrono::duration<double>(options_.poll_s);
  while (!cv_.wait_for(lock, poll, [this] { return stopping_; })) {
    const auto now = Clock::now();
    if (cross_rank_ && rank_ == 0) {
      lock.unlock();
      poll_reports();
      lock.lock();
      root_check(now);
    }
    if (inflight_seq_ < 0) continue;
    const double waited = seconds(now - inflight_start_);
    if (options_.timeout_s > 0 && waited >= options_.timeout_s) {
      abort_on_timeout(inflight_seq_, inflight_desc_, waited);
    }
    if (cross_rank_ && rank_ != 0 && waited >= options_.stall_warn_s / 2 && reported_seq_ != inflight_seq_) {
      report_stall_to_root(inflight_seq_);
    }
    if (!cross_rank_ && !local_warned_ && waited >= options_.stall_warn_s) {
      local_warned_ = true;
      std::fprintf(stderr, "gantry: rank %d: stall: collective #%lld (%s) has waited %.1f s\n", rank_,
                   static_cast<long long>(inflight_seq_), inflight_desc_.c_str(), waited);
    }
  }
}

// Called with mu_ held.
void CollectiveWatchdog::report_stall_to_root(std::int64_t seq) {
  if (send_req_ != MPI_REQUEST_NULL) {
    int done = 0;
    MPI_Test(&send_req_, &done, MPI_STATUS_IGNORE);
    if (!done) return;  // previous report not yet taken; try again next poll
  }
  report_buf_[0] = seq;
  report_buf_[1] = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - inflight_start_).count();
  MPI_Isend(report_buf_, 2, MPI_INT64_T, 0, kReportTag, comm_, &send_req_);
  reported_seq_ = seq;
}

// Root: receive every pending report (without holding mu_: MPI calls may be slow).
void CollectiveWatchdog::poll_reports() {
  for (;;) {
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kReportTag, comm_, &flag, &status);
    if (!flag) return;
    std::int64_t msg[2];
    MPI_Recv(msg, 2, MPI_INT64_T, status.MPI_SOURCE, kReportTag, comm_, MPI_STATUS_IGNORE);
    std::lock_guard<std::mutex> lock(mu_);
    arrivals_[status.MPI_SOURCE] = {msg[0], Clock::now() - std::chrono::milliseconds(msg[1])};
  }
}

// Root, with mu_ held: the stalled collective is the newest one any rank has
// waited in for stall_warn_s; warn once, naming the ranks that have not arrived.
void CollectiveWatchdog::root_check(Clock::time_point now) {
  std::int64_t seq = -1;
  double waited = 0;
  if (inflight_seq_ >= 0 && seconds(now - inflight_start_) >= options_.stall_warn_s) {
    seq = inflight_seq_;
    waited = seconds(now - inflight_start_);
  }
  for (const auto& [r, a] : arrivals_) {
    const double w = seconds(now - a.second);
    if (w >= options_.stall_warn_s && a.first >= seq) {
      waited = a.first > seq ? w : std::max(waited, w);
      seq = a.first;
    }
  }
  if (seq < 0 || seq <= warned_seq_) return;
  warned_seq_ = seq;
  const std::string desc = inflight_seq_ == seq ? " (" + inflight_desc_ + ")" : "";
  std::fprintf(stderr, "gantry: stall: collective #%lld%s has waited %.1f s; ranks not arrived: %s\n",
               static_cast<long long>(seq), desc.c_str(), waited, missing_ranks(seq).c_str());
}

// With mu_ held: ranks other than those known (own state or reports) to wait in `seq`.
std::string CollectiveWatchdog::missing_ranks(std::int64_t seq) const {
  std::ostringstream out;
  out << "[";
  bool first = true;
  for (int r = 0; r < size_; ++r) {
    bool arrived;
    if (r == rank_) {
      arrived = inflight_seq_ == seq;
    } else {
      auto it = arrivals_.find(r);
      arrived = it != arrivals_.end() && it->second.first == seq;
    }
    if (!arrived) {
      out << (first ? "" : ", ") << r;
      first = false;
    }
  }
  out << "]";
  return out.str();
}

void CollectiveWatchdog::abort_on_timeout(std::int64_t seq, const std::string& desc, double waited) {
  std::string who;
  if (cross_rank_ && rank_ == 0) who = "; ranks not arrived: " + missing_ranks(seq);
  std::fprintf(stderr, "gantry: rank %d: collective #%lld (%s) timed out after %.1f s%s; aborting the job\n", rank_,
               static_cast<long long>(seq), desc.c_str(), waited, who.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 3);
  std::abort();
}

}  // namespace gantry::dist
