// Virtual batch norm [Salimans et al. 2016, "Improved techniques"; formula in
// docs/TECHNIQUES.md], generator only. The input's first n_ref rows are the
// reference batch (a fixed noise batch z_ref propagated through the current G
// in the same forward); per channel μ_ref = E[x], q_ref = E[x²] over
// (N_ref, spatial). Reference rows are normalised with the reference moments;
// each live sample mixes its own spatial moments with weight c = 1/(N_ref+1):
//   μ = c μ_x + (1−c) μ_ref,  q = c q_x + (1−c) q_ref,
//   y = γ (x − μ) / √(q − μ² + ε) + β,  ε = 1e-5.
// Gradients flow through the reference moments as through the sample's own.
#pragma once
#include <torch/torch.h>

namespace gantry::models {

class VirtualBatchNormImpl : public torch::nn::Module {
 public:
  explicit VirtualBatchNormImpl(int64_t channels, double eps = 1e-5);
  // x: (n_ref + B, C, ...) with the reference rows first.
  torch::Tensor forward(const torch::Tensor& x, int64_t n_ref);
  double eps() const { return eps_; }

 private:
  int64_t channels_;
  double eps_;
  torch::Tensor gamma_, beta_;
};
TORCH_MODULE(VirtualBatchNorm);

}  // namespace gantry::models
