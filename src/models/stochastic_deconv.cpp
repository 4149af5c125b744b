#include "models/stochastic_deconv.h"

#include "common/rng.h"

namespace gantry::models {

torch::Tensor draw_routes(uint64_t seed, int64_t step, int64_t layer, int64_t first_sample, int64_t n, int64_t k) {
  auto r = torch::empty({n}, torch::kLong);
  auto* p = r.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    SplitMix64 g(key(seed ^ 0x726f757465ull, static_cast<uint64_t>(step), static_cast<uint64_t>(layer),
                     static_cast<uint64_t>(first_sample + i)));
    p[i] = static_cast<int64_t>(g.below(static_cast<uint64_t>(k)));
  }
  return r;
}

StochasticDeconvImpl::StochasticDeconvImpl(const StochasticDeconvOptions& o) : opt_(o) {
  if (o.filter_sets <= 0) throw std::invalid_argument("stochastic deconv: filter sets must be positive");
  for (int64_t s = 0; s < o.filter_sets; ++s) {
    sets_.push_back(
        register_module("set" + std::to_string(s), WeightLayer(WeightLayerOptions(o.kind, o.in, o.out, o.kernel)
                                                                   .stride(o.stride)
                                                                   .padding(o.padding)
                                                                   .norm(WeightNorm::kWeight))));
    acts_.push_back(
        register_module("act" + std::to_string(s),
                        torch::nn::PReLU(torch::nn::PReLUOptions().num_parameters(o.out).init(o.prelu_init))));
  }
}

torch::Tensor StochasticDeconvImpl::forward(const torch::Tensor& x, const torch::Tensor& routes) {
  if (routes.dim() != 1 || routes.size(0) != x.size(0))
    throw std::invalid_argument("stochastic deconv: one route per sample");
  const auto r = routes.to(x.device());
  torch::Tensor out;
  for (int64_t s = 0; s < opt_.filter_sets; ++s) {
    const auto idx = (r == s).nonzero().flatten();
    if (idx.numel() == 0) continue;
    const auto y = acts_[s]->forward(sets_[s]->forward(x.index_select(0, idx)));
    if (!out.defined()) {
      auto shape = y.sizes().vec();
      shape[0] = x.size(0);
      out = torch::zeros(shape, y.options());
    }
    out = out.index_copy(0, idx, y);  // out of place: differentiable
  }
  return out;
}

}  // namespace gantry::models
