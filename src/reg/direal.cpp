#include "reg/direal.h"

namespace gantry::reg {

torch::Tensor direal_layer_penalty(const torch::Tensor& w, double tau, double eps) {
  const auto unit = w / w.norm(2, 1, /*keepdim=*/true).clamp_min(eps);
  const auto s = torch::matmul(unit, unit.t());
  const auto off_diagonal = 1 - torch::eye(w.size(0), w.options());
  const auto a = s * off_diagonal;
  const auto mask = (a.detach().abs() > tau).to(w.scalar_type());
  return (mask * a).square().sum();
}

Direal::Direal(std::vector<models::WeightLayer> layers, DirealOptions options)
    : layers_(std::move(layers)), options_(options) {
  if (options_.tau < 0 || options_.tau >= 1) throw std::invalid_argument("DiReAL: tau must be in [0, 1)");
  if (options_.lambda < 0) throw std::invalid_argument("DiReAL: lambda must be non-negative");
}

torch::Tensor Direal::value() const {
  torch::Tensor r;
  for (const auto& l : layers_) {
    const auto j = direal_layer_penalty(l->filter_matrix(), options_.tau, options_.eps);
    r = r.defined() ? r + j : j;
  }
  return r.defined() ? r : torch::zeros({});
}

}  // namespace gantry::reg
