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

namespace {
std::vector<models::WeightLayer> joined(std::vector<models::WeightLayer> a, const std::vector<models::WeightLayer>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

std::vector<models::WeightLayer> direal_layers(const models::Generator& g, DirealScope scope) {
  return scope == DirealScope::kAll ? joined(g.direal_layers(), g.output_layers()) : g.direal_layers();
}
std::vector<models::WeightLayer> direal_layers(const models::Discriminator& d, DirealScope scope) {
  return scope == DirealScope::kAll ? joined(d.input_layers(), d.direal_layers()) : d.direal_layers();
}

Direal::Direal(std::vector<models::WeightLayer> layers, DirealOptions options)
    : layers_(std::move(layers)), options_(options) {
  if (options_.tau < 0 || options_.tau >= 1) throw std::invalid_argument("DiReAL: tau must be in [0, 1)");
  if (options_.lambda < 0) throw std::invalid_argument("DiReAL: lambda must be non-negative");
}

torch::Tensor Direal::value() const {
  torch::Tensor r;
  for (const auto& l : layers_) {
    auto filters = l->filter_matrix();
    if (filters.size(0) < 2) filters = l->input_filter_matrix();  // one output filter: compare input channels
    const auto j = direal_layer_penalty(filters, options_.tau, options_.eps);
    r = r.defined() ? r + j : j;
  }
  return r.defined() ? r : torch::zeros({});
}

}  // namespace gantry::reg
