// Stochastic deconvolution [seed "Stochastic Deconvolutional Neural Network
// Ensemble…"; docs/TECHNIQUES.md]: a bank of K filter sets (4×4 stride-2
// transposed convs with weight norm, each followed by its own PReLU
// initialised at 0.2); every sample goes through one set chosen at random per
// forward, so L such layers give K^L routes. Samples are grouped by their set
// on the host; a set no sample uses stays out of the graph (no gradient).
//
// Routes are a pure function of (seed, step, layer, GLOBAL sample index): the
// same sample gets the same route whatever rank computes it, so N ranks equal
// 1 rank, and a resumed run draws what an uninterrupted one would.
#pragma once
#include <torch/torch.h>

#include "models/weight_layer.h"

namespace gantry::models {

struct StochasticDeconvOptions {
  // kDeconv: the seed's banks of 4×4 stride-2 transposed convs; kLinear: banks
  // of linear filter sets (SGAN for 2-D MLPs; kernel/stride/padding unused).
  LayerKind kind = LayerKind::kDeconv;
  int64_t in = 0, out = 0;
  int64_t filter_sets = 8;  // K (seed: 8; 16 in its MNIST run)
  int64_t kernel = 4, stride = 2, padding = 1;
  double prelu_init = 0.2;
};

// Route of each of n samples, global indices [first_sample, first_sample + n).
torch::Tensor draw_routes(uint64_t seed, int64_t step, int64_t layer, int64_t first_sample, int64_t n, int64_t k);

class StochasticDeconvImpl : public torch::nn::Module {
 public:
  explicit StochasticDeconvImpl(const StochasticDeconvOptions& options);
  // routes: int64 (n,) in [0, K); a route outside throws std::invalid_argument.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& routes);
  int64_t filter_sets() const { return opt_.filter_sets; }

 private:
  StochasticDeconvOptions opt_;
  std::vector<WeightLayer> sets_;
  std::vector<torch::nn::PReLU> acts_;
};
TORCH_MODULE(StochasticDeconv);

}  // namespace gantry::models
