// Batch norm for 2-D (N, C) and 4-D (N, C, H, W) inputs, per rank or
// synchronized. Synchronized (the default under more than one rank, see
// docs/ARCHITECTURE.md invariant 1): the batch mean and biased variance
// are taken over the GLOBAL batch (models/sync_batch_norm.h: one all-reduce
// forward, one backward), so N ranks with B/N samples compute what 1 rank
// computes with B, forward and backward; the running statistics (momentum m,
// unbiased variance) are then identical on every rank. Per rank: ATen's fused
// batch norm on the local batch. Eval: the running statistics.
#pragma once
#include <torch/torch.h>

#include "dist/communicator.h"

namespace gantry::models {

struct BatchNormOptions {
  int64_t channels = 0;
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  dist::Communicator* sync = nullptr;  // null: per-rank statistics
};

class BatchNormImpl : public torch::nn::Module {
 public:
  explicit BatchNormImpl(const BatchNormOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  const BatchNormOptions& options() const { return opt_; }
  // The running statistics' momentum (train/standing_stats.h averages batches with 1/(k+1)).
  void set_momentum(double momentum) { opt_.momentum = momentum; }
  bool synchronized() const { return opt_.sync && opt_.sync->size() > 1; }

 private:
  BatchNormOptions opt_;
  torch::Tensor weight_, bias_, running_mean_, running_var_;
};
TORCH_MODULE(BatchNorm);

}  // namespace gantry::models
