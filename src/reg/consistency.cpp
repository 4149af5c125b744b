#include "reg/consistency.h"

namespace gantry::reg {

torch::Tensor cr_augment(const torch::Tensor& x, double max_shift_frac, torch::Generator gen) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const auto flips = torch::rand({n}, gen) < 0.5;
  const int64_t sy = static_cast<int64_t>(max_shift_frac * h), sx = static_cast<int64_t>(max_shift_frac * w);
  const auto dy = torch::randint(-sy, sy + 1, {n}, gen, torch::kLong);
  const auto dx = torch::randint(-sx, sx + 1, {n}, gen, torch::kLong);
  std::vector<torch::Tensor> out;
  out.reserve(n);
  namespace F = torch::nn::functional;
  for (int64_t i = 0; i < n; ++i) {
    auto xi = x[i];
    if (flips[i].item<bool>()) xi = xi.flip({2});
    const int64_t oy = dy[i].item<int64_t>(), ox = dx[i].item<int64_t>();
    // Shift by (oy, ox) with zero fill: pad by the shift on one side, crop the other.
    xi = F::pad(xi.unsqueeze(0), F::PadFuncOptions({std::max<int64_t>(ox, 0), std::max<int64_t>(-ox, 0),
                                                    std::max<int64_t>(oy, 0), std::max<int64_t>(-oy, 0)}))
             .squeeze(0)
             .narrow(1, std::max<int64_t>(-oy, 0), h)
             .narrow(2, std::max<int64_t>(-ox, 0), w);
    out.push_back(xi);
  }
  return torch::stack(out);
}

torch::Tensor consistency_term(const torch::Tensor& d_x, const torch::Tensor& d_tx, double lambda) {
  return lambda * (d_x.reshape({-1}) - d_tx.reshape({-1})).square().mean();
}

}  // namespace gantry::reg
