#include "train/step_profiler.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace gantry::train {

namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;

std::unique_ptr<StepProfiler> StepProfiler::from_env(int rank, bool cuda) {
  const char* spec = std::getenv("GANTRY_PROFILE");
  if (!spec || !*spec) return nullptr;
  long long first = -1, last = -1;
  int used = 0;
  const std::string s(spec);
  if (std::sscanf(spec, "%lld-%lld:%n", &first, &last, &used) != 2 || used == 0 || used >= (int)s.size() || first < 0 ||
      last < first)
    throw std::invalid_argument("GANTRY_PROFILE must be FIRST-LAST:FILE (steps, 0-based), not '" + s + "'");
  if (rank != 0) return nullptr;  // every rank checks the value; rank 0 profiles
  return std::unique_ptr<StepProfiler>(new StepProfiler(first, last, s.substr(used), cuda));
}

namespace {
std::set<ActivityType> activities(bool cuda) {
  std::set<ActivityType> a{ActivityType::CPU};
  if (cuda) a.insert(ActivityType::CUDA);
  return a;
}
}  // namespace

void StepProfiler::before_step(int64_t step) {
  if (active_ || step != first_) return;
  const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  prof::prepareProfiler(config, activities(cuda_));
  prof::enableProfiler(config, activities(cuda_));
  active_ = true;
}

void StepProfiler::after_step(int64_t step) {
  if (!active_ || step != last_) return;
  active_ = false;
  auto result = prof::disableProfiler();
  result->save(path_);
  std::fprintf(stderr, "gantry: profile of steps %lld-%lld written to %s\n", (long long)first_, (long long)last_,
               path_.c_str());
}

StepProfiler::~StepProfiler() {
  if (active_) prof::disableProfiler();  // the run ended inside the window: nothing written
}

}  // namespace gantry::train
