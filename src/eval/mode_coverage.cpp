#include "eval/mode_coverage.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace gantry::eval {

torch::Tensor mixture_centers(const Mixture2D& mixture) {
  const int64_t k = static_cast<int64_t>(mixture.centers.size());
  auto centers = torch::empty({k, 2}, torch::kDouble);
  auto at = centers.accessor<double, 2>();
  for (int64_t i = 0; i < k; ++i) {
    at[i][0] = mixture.centers[static_cast<size_t>(i)][0];
    at[i][1] = mixture.centers[static_cast<size_t>(i)][1];
  }
  return centers;
}

ModeCoverage mode_coverage(const torch::Tensor& points, const Mixture2D& mixture) {
  if (points.dim() != 2 || points.size(1) != 2 || points.size(0) < 1)
    throw std::invalid_argument("mode coverage: need [N >= 1, 2] points");
  const auto x = points.detach().to(torch::kCPU, torch::kDouble);
  const auto centers = mixture_centers(mixture);
  const int64_t k = centers.size(0);
  const auto dist = torch::cdist(x, centers);  // [N, K]
  const auto [nearest_dist, nearest] = dist.min(1);
  // A non-finite point (a diverged G) is nowhere near a mode.
  const auto hq = torch::isfinite(nearest_dist) & (nearest_dist <= 3 * mixture.sigma);
  ModeCoverage r;
  r.samples = x.size(0);
  r.modes_total = k;
  const auto counts = torch::bincount(nearest.masked_select(hq), {}, k);
  r.histogram.resize(k);
  const int64_t n_hq = hq.sum().item<int64_t>();
  double kl = 0, jsd = 0;
  const double u = 1.0 / static_cast<double>(k);
  for (int64_t i = 0; i < k; ++i) {
    r.histogram[i] = counts[i].item<int64_t>();
    const double p = n_hq > 0 ? static_cast<double>(r.histogram[i]) / n_hq : 0;
    const double mid = 0.5 * (p + u);
    jsd += 0.5 * u * std::log(u / mid);
    if (r.histogram[i] > 0) {
      ++r.modes_captured;
      kl += p * std::log(k * p);
      jsd += 0.5 * p * std::log(p / mid);
    }
  }
  r.high_quality_share = static_cast<double>(n_hq) / r.samples;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.kl_from_uniform = n_hq > 0 ? kl : nan;
  r.jsd_from_uniform = n_hq > 0 ? jsd : nan;
  return r;
}

}  // namespace gantry::eval
