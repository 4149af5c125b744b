#include "train/step_timing.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace gantry::train {

void StepTimingLog::add(const std::string& phase, const dist::GradSyncTiming& t, const CollectiveUse& collectives) {
  auto& s = sums_[phase];
  if (s.phases == 0) {
    s.bucket_bytes = t.bucket_bytes;
    s.bucket_ready_s.assign(t.bucket_ready_s.size(), 0.0);
  }
  ++s.phases;
  s.backward_s += t.backward_s;
  s.exposed_s += t.exposed_s;
  s.collectives.calls += collectives.calls;
  s.collectives.bytes += collectives.bytes;
  s.collectives.seconds += collectives.seconds;
  for (std::size_t i = 0; i < s.bucket_ready_s.size() && i < t.bucket_ready_s.size(); ++i)
    s.bucket_ready_s[i] += t.bucket_ready_s[i];  // NaN (a bucket not filled in backward) stays NaN
}

void StepTimingLog::write(std::ostream& out, int64_t step, int ranks, bool overlap) {
  for (const auto& [phase, s] : sums_) {
    if (s.phases == 0) continue;
    const double n = static_cast<double>(s.phases);
    nlohmann::json ready = nlohmann::json::array();
    for (double r : s.bucket_ready_s) ready.push_back(std::isnan(r) ? nlohmann::json(nullptr) : nlohmann::json(r / n));
    out << nlohmann::json{{"step", step},
                          {"phase", phase},
                          {"phases", s.phases},
                          {"ranks", ranks},
                          {"overlap", overlap},
                          {"backward_s", s.backward_s / n},
                          {"exposed_s", s.exposed_s / n},
                          {"bucket_bytes", s.bucket_bytes},
                          {"bucket_ready_s", ready},
                          {"sync_collectives", s.collectives.calls / n},
                          {"sync_collective_bytes", s.collectives.bytes / n},
                          {"sync_collective_s", s.collectives.seconds / n}}
               .dump()
        << "\n";
  }
  out.flush();
  sums_.clear();
}

}  // namespace gantry::train
