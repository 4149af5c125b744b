// Training data of the 2-D mixture benchmarks, drawn on the fly: sample i of
// the run (global index, counting every sample of every global batch) is a
// pure function of (seed, i): its mode uniform over the mixture's modes, its
// offset σ·N(0, I) by Box–Muller. So N ranks see exactly the samples 1 rank
// sees, and a resumed run the ones an uninterrupted run would.
#pragma once
#include <torch/torch.h>

#include "common/mixture2d.h"
#include "data/batch_source.h"

namespace gantry::data {

// Samples [first, first + n) of the stream (seed), float64 [n, 2]; `modes`
// (if given) receives each sample's mode index.
torch::Tensor mixture_samples(const Mixture2D& mixture, uint64_t seed, int64_t first, int64_t n,
                              torch::Tensor* modes = nullptr);

class MixtureSource : public BatchSource {
 public:
  // Position: SamplerState{epoch 0, offset = global samples drawn so far}.
  MixtureSource(Mixture2D mixture, uint64_t seed, int64_t global_batch, int rank, int world, SamplerState start,
                torch::Device device);
  Batch next() override;
  SamplerState state() const override { return {0, drawn_}; }

 private:
  Mixture2D mixture_;
  uint64_t seed_;
  int64_t global_batch_;
  int rank_, world_;
  int64_t drawn_;
  torch::Device device_;
};

}  // namespace gantry::data
