#include "reg/split_loss.h"

#include <stdexcept>

namespace gantry::reg {

std::vector<double> split_loss_weights(size_t n) {
  const std::vector<double> seed = {0.03125, 0.0625, 0.125, 0.25, 0.53125};
  if (n > seed.size()) throw std::invalid_argument("split loss: at most 5 feature-map resolutions (4..64)");
  return {seed.begin(), seed.begin() + static_cast<long>(n)};
}

torch::Tensor split_loss(const std::vector<torch::Tensor>& maps, const std::vector<double>& weights, double eps) {
  if (maps.size() != weights.size()) throw std::invalid_argument("split loss: one weight per feature map");
  torch::Tensor total;
  for (size_t i = 0; i < maps.size(); ++i) {
    const int64_t b = maps[i].size(0);
    if (b < 2) throw std::invalid_argument("split loss needs at least 2 samples per rank");
    const auto m = maps[i].reshape({b, -1});
    // Row k against rows k+1..B−1: memory O(B · map size), not O(B² · map size).
    torch::Tensor sum_log;
    for (int64_t k = 0; k + 1 < b; ++k) {
      const auto rest = m.narrow(0, k + 1, b - k - 1);
      const auto f = torch::tanh(((rest - m[k]) / 25.0).pow(4)).mean(1);
      const auto s = torch::log(f + eps).sum();
      sum_log = sum_log.defined() ? sum_log + s : s;
    }
    const auto term = (2.0 * weights[i] / (b * (b - 1))) * sum_log;
    total = total.defined() ? total + term : term;
  }
  return -total;  // the decision above: maximise L_split
}

}  // namespace gantry::reg
