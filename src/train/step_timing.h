// Per-bucket timing of the D and G phases over one log window (log.timing):
// rank 0 appends one JSON line per phase kind to <run_dir>/timing.jsonl at
// every metrics line, with the window's mean backward time, exposed
// communication and each bucket's ready time (dist::GradSyncTiming). These are
// the compute profile bench/scaling_model.py predicts step times from.
#pragma once
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "dist/grad_sync.h"

namespace gantry::train {

// A phase's synchronous collectives (synchronized BN, minibatch discrimination,
// feature matching): how many, their bytes, and the host time blocked in them.
struct CollectiveUse {
  int64_t calls = 0, bytes = 0;
  double seconds = 0;
};

class StepTimingLog {
 public:
  void add(const std::string& phase, const dist::GradSyncTiming& t, const CollectiveUse& collectives);
  // Appends the window's means (one line per phase) to `out`, then starts a new window.
  void write(std::ostream& out, int64_t step, int ranks, bool overlap);

 private:
  struct Sums {
    int64_t phases = 0;
    double backward_s = 0, exposed_s = 0;
    CollectiveUse collectives;
    std::vector<int64_t> bucket_bytes;
    std::vector<double> bucket_ready_s;
  };
  std::map<std::string, Sums> sums_;
};

}  // namespace gantry::train
