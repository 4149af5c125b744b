#include "reg/gradient_penalties.h"

#include <stdexcept>

namespace gantry::reg {

namespace {
// Per-sample ‖∇_x Σ_b d(x_b)‖ (valid for D without cross-sample coupling).
torch::Tensor input_grad_norm(const Critic& d, const torch::Tensor& x) {
  const auto out = d(x);
  const auto g = torch::autograd::grad({out.sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  return g.reshape({g.size(0), -1}).norm(2, 1);
}
}  // namespace

torch::Tensor wgan_gp(const Critic& d, const torch::Tensor& real, const torch::Tensor& fake, const torch::Tensor& eps,
                      double lambda) {
  if (eps.dim() != 1 || eps.size(0) != real.size(0)) throw std::invalid_argument("WGAN-GP: one ε per sample");
  std::vector<int64_t> view(real.dim(), 1);
  view[0] = -1;
  const auto e = eps.view(view);
  const auto x_hat = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(true);
  return lambda * (input_grad_norm(d, x_hat) - 1).square().mean();
}

bool r1_due(const R1Options& o, int64_t d_step) { return o.interval <= 1 || d_step % o.interval == 0; }

torch::Tensor r1_penalty(const Critic& d, const torch::Tensor& real, const R1Options& o) {
  const auto x = real.detach().requires_grad_(true);
  const auto out = d(x);
  const auto g = torch::autograd::grad({out.sum()}, {x}, {}, true, true)[0];
  // Σ over all rows of ‖∇_row‖², divided by D's number of outputs: the mean of ‖∇D‖² per sample, or per pack
  // when each output judges a pack of m rows (its input gradient is those m rows' gradients, and each row
  // belongs to one pack, so the packs' squared norms sum to the rows'). No reshape into packs is needed.
  return (o.gamma / 2) * g.square().sum() / static_cast<double>(out.size(0)) *
         static_cast<double>(std::max<int64_t>(1, o.interval));
}

}  // namespace gantry::reg
