// The distributed smoke demo (`gantry smoke`): a small conv net trained
// data-parallel on synthetic labelled images, exercising the whole dist/
// stack (broadcast, fused gradient sync, averaged metrics, consistency
// check, failure handling). Not a GAN: the trainer replaces it as the
// quickstart job.
#pragma once
#include <cstdint>
#include <string>

#include "dist/world.h"

namespace gantry::train {

struct SmokeOptions {
  int steps = 200;
  int global_batch = 64;
  std::uint64_t seed = 1;
  bool overlap = true;
  std::size_t bucket_cap_kib = 25 * 1024;
  int log_every = 20;
  // Fault injection for the failure tests: rank `fault_rank` throws at `fault_step`;
  // rank `stall_rank` sleeps `stall_seconds` before step `stall_step`.
  int fault_rank = -1, fault_step = -1;
  int stall_rank = -1, stall_step = -1;
  double stall_seconds = 0;
  std::string json_out;  // rank 0 writes the summary JSON here too
};

// Returns the process exit code; throws on invalid options.
int run_smoke(dist::World& world, const SmokeOptions& options);

}  // namespace gantry::train
