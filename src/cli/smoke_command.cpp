// gantry smoke: the distributed smoke demo (see train/smoke_training.h).
#include <memory>

#include "cli/commands.h"
#include "cli/rank_errors.h"
#include "dist/world.h"
#include "train/smoke_training.h"

namespace gantry::cli {

CLI::App* add_smoke_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("smoke", "Distributed smoke demo: train a small CNN data-parallel on synthetic data");
  auto o = std::make_shared<train::SmokeOptions>();
  sub->add_option("--steps", o->steps, "training steps")->check(CLI::PositiveNumber);
  sub->add_option("--batch", o->global_batch, "global batch (a multiple of the world size)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--seed", o->seed, "random seed");
  sub->add_option("--overlap", o->overlap, "overlap gradient all-reduce with backward (true/false)");
  sub->add_option("--bucket-kib", o->bucket_cap_kib, "gradient bucket cap in KiB")->check(CLI::PositiveNumber);
  sub->add_option("--log-every", o->log_every, "progress line every N steps")->check(CLI::PositiveNumber);
  sub->add_option("--json-out", o->json_out, "also write the summary JSON to this file");
  auto* faults = sub->add_option_group("fault injection", "for the failure tests");
  faults->add_option("--fault-rank", o->fault_rank, "rank that throws");
  faults->add_option("--fault-step", o->fault_step, "step at which it throws");
  faults->add_option("--stall-rank", o->stall_rank, "rank that stalls");
  faults->add_option("--stall-step", o->stall_step, "step before which it stalls");
  faults->add_option("--stall-seconds", o->stall_seconds, "how long it stalls");
  sub->callback([&action, o] {
    action = [o] { return run_on_world([&](dist::World& world) { return train::run_smoke(world, *o); }); };
  });
  return sub;
}

}  // namespace gantry::cli
