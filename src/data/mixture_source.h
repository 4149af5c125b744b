// Training data of the 2-D mixture benchmarks, drawn on the fly: sample i of
// the run (global index, counting every sample of every global batch) is a
// pure function of (seed, i): its mode uniform over the mixture's modes, its
// offset σ·N(0, I) by Box–Muller. So N ranks see exactly the samples 1 rank
// sees, and a resumed run the ones an uninterrupted run would.
//
// With a pool of P > 0 samples (PacGAN's protocol: a fixed training set of
// 100,000 points drawn once, reshuffled every epoch), the training set is
// stream samples [0, P), and the batches walk GlobalBatchSampler's epoch
// permutations of it (kContinue: each point exactly once per epoch), with
// the same rank slicing and resume semantics as image datasets.
#pragma once
#include <torch/torch.h>

#include "common/mixture2d.h"
#include "data/batch_source.h"
#include "data/sampler.h"

#include <optional>

namespace gantry::data {

// Samples [first, first + n) of the stream (seed), float64 [n, 2]; `modes`
// (if given) receives each sample's mode index.
torch::Tensor mixture_samples(const Mixture2D& mixture, uint64_t seed, int64_t first, int64_t n,
                              torch::Tensor* modes = nullptr);

class MixtureSource : public BatchSource {
 public:
  // Position without a pool: SamplerState{epoch 0, offset = global samples
  // drawn so far}; with a pool (pool > 0): the sampler's (epoch, offset).
  MixtureSource(Mixture2D mixture, uint64_t seed, int64_t global_batch, int rank, int world, SamplerState start,
                torch::Device device, int64_t pool = 0);
  Batch next() override;
  SamplerState state() const override { return sampler_ ? pool_state_ : SamplerState{0, drawn_}; }

 private:
  std::optional<GlobalBatchSampler> sampler_;
  SamplerState pool_state_;
  torch::Tensor pool_, pool_modes_;  // [P, 2] float64, [P]
  Mixture2D mixture_;
  uint64_t seed_;
  int64_t global_batch_;
  int rank_, world_;
  int64_t drawn_;
  torch::Device device_;
};

}  // namespace gantry::data
