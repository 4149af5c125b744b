#include "models/stochastic_deconv.h"

#include "common/rng.h"

#include <stdexcept>

namespace gantry::models {

namespace {

// Above this many elements, the per-sample weights of the gathered linear path (n · out · in) would cost more
// memory than the per-set matmuls cost time (two banks of 400 → 400: 64 M floats), so such banks use the
// grouped path.
constexpr int64_t kMaxGatheredWeights = int64_t{1} << 22;

}  // namespace

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
  if (r.numel() > 0 && (r.min().item<int64_t>() < 0 || r.max().item<int64_t>() >= opt_.filter_sets))
    throw std::invalid_argument("stochastic deconv: a route outside [0, " + std::to_string(opt_.filter_sets) + ")");
  if (opt_.kind == LayerKind::kLinear && x.size(0) * opt_.out * opt_.in <= kMaxGatheredWeights)
    return forward_gathered(x, r);
  return forward_grouped(x, r);
}

torch::Tensor StochasticDeconvImpl::forward_grouped(const torch::Tensor& x, const torch::Tensor& r) {
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

torch::Tensor StochasticDeconvImpl::forward_gathered(const torch::Tensor& x, const torch::Tensor& r) {
  // Linear banks in a constant number of ops whatever K: the used sets' weight-normed weights, biases and PReLU
  // slopes stacked, then gathered per sample (a bank of 64 sets looped costs ~20 ops per set each way, which
  // dominated a 2-D grid step). Only the used sets are stacked, so an unused set gets no gradient, as in the
  // grouped path (Adam then skips it).
  const auto [used, slot] = at::_unique(r, /*sorted=*/true, /*return_inverse=*/true);
  const auto* u = used.data_ptr<int64_t>();
  std::vector<torch::Tensor> v, g, b, a;
  for (int64_t i = 0; i < used.numel(); ++i) {
    const auto& set = *sets_[u[i]];
    v.push_back(set.raw_weight());
    g.push_back(set.gain());
    b.push_back(set.bias());
    a.push_back(acts_[u[i]]->weight);
  }
  const auto at = slot.to(x.device());
  const auto vs = torch::stack(v);                                                                 // (used, out, in)
  const auto w = (vs * weight_norm_scale(vs, torch::stack(g)).unsqueeze(-1)).index_select(0, at);  // (n, out, in)
  const auto y = torch::bmm(w, x.unsqueeze(2)).squeeze(2) + torch::stack(b).index_select(0, at);
  // PReLU with each sample's own slopes: y for y > 0, a·y otherwise (torch::prelu takes one slope vector).
  return torch::where(y > 0, y, torch::stack(a).index_select(0, at) * y);
}

}  // namespace gantry::models
