// Standing statistics (BigGAN, Brock et al. 2019, appendix C.1): a generator's
// batch-norm population statistics recomputed from its own activations before
// it is sampled. G_ema needs them: its running mean and variance are an
// exponential average of G's running statistics, not the statistics of
// G_ema's (averaged) weights, and with batch norm in G the two differ.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "dist/communicator.h"
#include "models/batch_norm.h"
#include "models/networks.h"

namespace gantry::train {

// While alive, every batch norm of `g` holds the average, over `batches` forward passes in
// training mode, of the batch statistics (mean, unbiased variance) of a global batch of `batch`
// rows (momentum 1/(k+1) at pass k: the running statistics become the plain mean). Pass k's noise
// is keyed by (seed, k). With synchronized batch norm rank r of `comm` (null: one process)
// forwards rows [⌊r·batch/W⌋, ⌊(r+1)·batch/W⌋) of it; with per-rank batch norm every rank
// forwards all of it. Either way every world size computes 1 process's statistics. g's
// training/eval mode is restored at once; the previous statistics and momenta when it ends.
// Throws std::invalid_argument for no batch or < 2 rows per rank.
class StandingStatistics {
 public:
  StandingStatistics(models::Generator& g, int64_t batches, int64_t batch, uint64_t seed, torch::Device device,
                     dist::Communicator* comm);
  ~StandingStatistics();
  StandingStatistics(const StandingStatistics&) = delete;
  StandingStatistics& operator=(const StandingStatistics&) = delete;

 private:
  void restore();
  struct Saved {
    models::BatchNormImpl* bn;
    double momentum;
    std::vector<torch::Tensor> buffers, values;
  };
  std::vector<Saved> saved_;
};

}  // namespace gantry::train
