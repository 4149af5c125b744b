#include "eval/inception_score.h"

#include <cmath>
#include <stdexcept>

namespace gantry::eval {

InceptionScore inception_score(const torch::Tensor& probs, int64_t splits) {
  if (probs.dim() != 2 || splits < 1 || probs.size(0) < splits)
    throw std::invalid_argument("inception score: need [N, K] probabilities with N >= splits >= 1");
  const auto p = probs.detach().to(torch::kCPU, torch::kDouble);
  if ((p < 0).any().item<bool>() || ((p.sum(1) - 1).abs() > 1e-3).any().item<bool>())
    throw std::invalid_argument("inception score: the classifier's outputs are not probabilities (rows must sum to 1)");
  const int64_t n = p.size(0);
  std::vector<double> scores;
  for (int64_t i = 0; i < splits; ++i) {
    const int64_t lo = i * n / splits, hi = (i + 1) * n / splits;
    const auto part = p.narrow(0, lo, hi - lo);
    const auto py = part.mean(0, /*keepdim=*/true);
    // p log(p / p_y) with 0 log 0 = 0 (xlogy), and p_y > 0 wherever p > 0.
    const auto kl = (torch::xlogy(part, part) - torch::xlogy(part, py.expand_as(part))).sum(1).mean();
    scores.push_back(std::exp(kl.item<double>()));
  }
  double mean = 0, var = 0;
  for (double s : scores) mean += s / splits;
  for (double s : scores) var += (s - mean) * (s - mean) / splits;
  return {mean, std::sqrt(var), splits};
}

}  // namespace gantry::eval
