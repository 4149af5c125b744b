// Stall detector and collective timeout.
//
// The backends call begin()/end() around every collective. A watchdog thread
// per rank looks at the collective in flight:
//  - after report_after_s of waiting, a non-root rank tells rank 0 which
//    collective it is waiting in (one tiny message on a private communicator,
//    only when stalled: nothing is sent on the fast path);
//  - rank 0 warns once per stalled collective after stall_warn_s, naming the
//    ranks that have not reported arriving (Horovod's coordinator idea);
//  - any rank whose collective has waited timeout_s aborts the whole job.
#pragma once
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace gantry::dist {

struct WatchdogOptions {
  double stall_warn_s = 60.0;
  double timeout_s = 600.0;  // 0 = never abort
  double poll_s = 0.1;
};

class CollectiveWatchdog {
 public:
  // `comm` is duplicated for the watchdog's own messages. Cross-rank reports
  // need MPI_THREAD_MULTIPLE (`thread_multiple`); without it only local
  // warnings and the timeout are available.
  CollectiveWatchdog(MPI_Comm comm, const WatchdogOptions& options, bool thread_multiple);
  ~CollectiveWatchdog();

  // Marks the start of collective number `seq` (the same sequence on every rank).
  void begin(std::int64_t seq, std::string description);
  void end(std::int64_t seq);
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  void run();
  void poll_reports();
  void report_stall_to_root(std::int64_t seq);
  void root_check(Clock::time_point now);
  [[noreturn]] void abort_on_timeout(std::int64_t seq, const std::string& desc, double waited);
  std::string missing_ranks(std::int64_t seq) const;

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  WatchdogOptions options_;
  bool cross_rank_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::int64_t inflight_seq_ = -1;
  std::string inflight_desc_;
  Clock::time_point inflight_start_;
  bool local_warned_ = false;
  std::int64_t reported_seq_ = -1;  // last seq this rank reported to root

  // Root only: latest collective each rank reported waiting in, and when it arrived.
  std::map<int, std::pair<std::int64_t, Clock::time_point>> arrivals_;
  std::int64_t warned_seq_ = -1;
  std::int64_t report_buf_[2] = {0, 0};
  MPI_Request send_req_ = MPI_REQUEST_NULL;

  std::thread thread_;
};

}  // namespace gantry::dist
