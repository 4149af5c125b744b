#include "eval/diversity.h"

#include <stdexcept>

namespace gantry::eval {

double mean_pairwise_distance(const torch::Tensor& features) {
  if (features.dim() != 2 || features.size(0) < 2) throw std::invalid_argument("pairwise distance: need [N >= 2, F]");
  const auto f = features.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const int64_t n = f.size(0), block = 512;
  double sum = 0;
  for (int64_t lo = 0; lo < n; lo += block) {
    const int64_t len = std::min(block, n - lo);
    // Rows lo.. against all later rows j > i: the full block row, then keep the strict upper part.
    const auto d =
        torch::cdist(f.narrow(0, lo, len), f.narrow(0, lo, n - lo), 2.0, /*compute_mode=*/2);  // no mm shortcut
    sum += torch::triu(d, 1).sum().item<double>();
  }
  return sum / (static_cast<double>(n) * (n - 1) / 2);
}

}  // namespace gantry::eval
