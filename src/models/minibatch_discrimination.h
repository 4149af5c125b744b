// Minibatch discrimination [Salimans et al. 2016 §3.2; docs/TECHNIQUES.md]:
//   M_i = h_i T (T ∈ R^{A×B×C}),  c_b(i,j) = exp(−‖M_ib − M_jb‖₁),
//   o_b(i) = Σ_{j≠i} c_b(i,j),    output [h_i, o(i)]  (A + B features).
// With a communicator of more than one rank, j runs over the GLOBAL batch
// (differentiable all_gather), so N ranks compute what 1 rank computes on the
// concatenated batch. A cross-sample layer: refused under GN/PGN.
#pragma once
#include <torch/torch.h>

#include "dist/communicator.h"

namespace gantry::models {

struct MinibatchDiscriminationOptions {
  int64_t in_features = 0;  // A
  int64_t kernels = 100;    // B
  int64_t kernel_dim = 5;   // C
  dist::Communicator* sync = nullptr;
};

class MinibatchDiscriminationImpl : public torch::nn::Module {
 public:
  explicit MinibatchDiscriminationImpl(const MinibatchDiscriminationOptions& options);
  torch::Tensor forward(const torch::Tensor& h);  // (n, A) → (n, A + B)
  int64_t out_features() const { return opt_.in_features + opt_.kernels; }

 private:
  MinibatchDiscriminationOptions opt_;
  torch::Tensor t_;
};
TORCH_MODULE(MinibatchDiscrimination);

}  // namespace gantry::models
