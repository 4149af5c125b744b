#include "models/stochastic_deconv.h"

#include "common/rng.h"

#include <stdexcept>

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
  // Routes are drawn on the host (draw_routes); grouping them there costs no device sync, where a nonzero()
  // per filter set would cost K.
  const auto r = routes.to(torch::kCPU, torch::kLong).contiguous();
  if (r.numel() == 0) return acts_[0]->forward(sets_[0]->forward(x));  // an empty batch: the right shape
  if (r.numel() > 0 && (r.min().item<int64_t>() < 0 || r.max().item<int64_t>() >= opt_.filter_sets))
    throw std::invalid_argument("stochastic deconv: a route outside [0, " + std::to_string(opt_.filter_sets) + ")");
  // Samples sorted by set (stable: ascending sample index within a set), each set's rows one contiguous slice,
  // the outputs put back in sample order by one gather. An unused set stays out of the graph: no gradient.
  const auto order = std::get<1>(torch::sort(r, std::optional<bool>(true), /*dim=*/0, /*descending=*/false));
  const auto counts = torch::bincount(r, {}, opt_.filter_sets);
  const auto* c = counts.data_ptr<int64_t>();
  const auto sorted = x.index_select(0, order.to(x.device()));
  std::vector<torch::Tensor> ys;
  int64_t start = 0;
  for (int64_t s = 0; s < opt_.filter_sets; ++s) {
    if (c[s] == 0) continue;
    ys.push_back(acts_[s]->forward(sets_[s]->forward(sorted.narrow(0, start, c[s]))));
    start += c[s];
  }
  const auto back = torch::empty_like(order).index_put_({order}, torch::arange(order.size(0), order.options()));
  return torch::cat(ys).index_select(0, back.to(x.device()));
}

}  // namespace gantry::models
