// Gradient penalties on D (docs/TECHNIQUES.md), per-sample and local to
// each rank (the mean over the local batch; GradSync's average makes it the
// global mean):
//   WGAN-GP [Gulrajani et al. 2017]: λ E[(‖∇D(x̂)‖ − 1)²], x̂ = εx + (1−ε)x̃,
//       ε ~ U[0,1) per sample (λ = 10)
//   R1 [Mescheder et al. 2018]: (γ/2) E_real ‖∇D(x)‖²; lazy: every k steps,
//       scaled by k (StyleGAN2's lazy regularization). The mean is over D's
//       outputs: per pack when D judges packs of m samples (PacGAN), whose
//       gradient is the m rows' gradients together.
#pragma once
#include <torch/torch.h>

#include <functional>

namespace gantry::reg {

using Critic = std::function<torch::Tensor(const torch::Tensor&)>;

// eps: (B) uniform [0,1) draws (the caller's generator, so ranks draw different ε).
torch::Tensor wgan_gp(const Critic& d, const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& eps,
                      double lambda = 10.0);

struct R1Options {
  double gamma = 10.0;
  int64_t interval = 1;  // lazy: apply every `interval` D steps, scaled by it
};
bool r1_due(const R1Options& o, int64_t d_step);
torch::Tensor r1_penalty(const Critic& d, const torch::Tensor& real, const R1Options& o);

}  // namespace gantry::reg
