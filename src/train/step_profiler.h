// Op-level profile of chosen training steps with LibTorch's own profiler
// (Kineto, CPU activity; CUDA activity too when the tensors are on a GPU):
//   GANTRY_PROFILE="FIRST-LAST:FILE"   steps FIRST..LAST (0-based) on rank 0
// writes a Chrome trace (chrome://tracing, Perfetto) that
// bench/profile_summary.py turns into self-time per op and per phase (the
// trainer marks its phases with RECORD_USER_SCOPE("gantry::...")).
// Off (no cost beyond one branch per step) when the variable is unset.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace gantry::train {

class StepProfiler {
 public:
  // Null when GANTRY_PROFILE is unset or this is not rank 0; throws std::invalid_argument on a malformed value (every
  // rank).
  static std::unique_ptr<StepProfiler> from_env(int rank, bool cuda);
  ~StepProfiler();
  void before_step(int64_t step);  // starts profiling at FIRST
  void after_step(int64_t step);   // stops and writes the trace after LAST

 private:
  StepProfiler(int64_t first, int64_t last, std::string path, bool cuda)
      : first_(first), last_(last), path_(std::move(path)), cuda_(cuda) {}
  int64_t first_, last_;
  std::string path_;
  bool cuda_;
  bool active_ = false;
};

}  // namespace gantry::train
