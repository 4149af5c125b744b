// The GAN training loop of `gantry train` (docs/ARCHITECTURE.md, "One
// training step"): per G update, n_dis D updates on fresh real batches, then
// one G update; every loss term from train/losses and reg/; fused gradient
// all-reduce per phase (D's parameters are frozen in the G phase, so D's
// gradients are never reduced there); EMA of G; rank-0 metrics (JSON lines
// and TensorBoard, the loss terms and timings of the step that ends each
// logging window, averaged over ranks), sample grids and atomic checkpoints;
// resume from the newest valid one.
//
// Randomness: z, GP's ε and the fixed sample noise are drawn for the GLOBAL
// batch from keys (seed, purpose, step, phase) and each rank takes its rows,
// so N ranks compute what 1 rank computes; CR's augmentation draws from
// (seed, step, rank). Nothing else is random, so a checkpoint needs no RNG state.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "dist/world.h"
#include "train/train_config.h"

namespace gantry::train {

struct TrainOptions {
  std::filesystem::path run_dir;
  bool quiet = false;  // no progress line
  // Test hook: given (step, rank, D's loss), returns the loss D backpropagates
  // (gantry train's GANTRY_INJECT_NAN_STEP makes it NaN at chosen steps).
  std::function<torch::Tensor(int64_t, int, const torch::Tensor&)> d_loss_hook;
};

// Exit codes of `gantry train` besides 0/1/2/3 (documented in README).
inline constexpr int kExitPreempted = 75;  // stopped by a signal after a checkpoint: requeue and resume

// A run made in two parts, so that what can fail on one rank for want of
// memory or a readable file fails before the ranks enter a collective, where
// they can still agree on one error line (cli/rank_errors.h):
//   auto run = prepare_training(world, config, options);  // local: models, optimizers, resume, data
//   return run->run(stop);                                 // collectives: rank 0's state, then training
class TrainingRun {
 public:
  struct Impl;
  explicit TrainingRun(std::unique_ptr<Impl> impl);
  ~TrainingRun();
  // Writes the resolved config (rank 0), trains; returns the process exit code. `stop` is
  // polled at step boundaries (set by a signal handler); ranks agree before stopping.
  int run(const std::atomic<int>& stop);

 private:
  std::unique_ptr<Impl> impl_;
};
std::unique_ptr<TrainingRun> prepare_training(dist::World& world, TrainConfig config, const TrainOptions& options);

}  // namespace gantry::train
