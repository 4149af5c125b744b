// Mode coverage on 2-D mixtures [VEEGAN, Srivastava et al. 2017; PacGAN, Lin
// et al. 2018; docs/EVALUATION.md, Metrics]: each generated point is
// assigned to its nearest mode; it is high quality if it lies within 3σ of
// that mode. A mode is captured if at least one high-quality point is
// assigned to it. The KL divergence is that of the high-quality points' mode
// histogram p̂ from uniform: Σ_k p̂_k log(K p̂_k) (0 log 0 = 0); it is undefined
// (NaN) when no point is high quality. PacGAN's code also logs the
// Jensen–Shannon divergence of p̂ and uniform u (natural log):
// JSD = ½ KL(p̂ ‖ m) + ½ KL(u ‖ m), m = ½(p̂ + u); NaN likewise.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "common/mixture2d.h"

namespace gantry::eval {

struct ModeCoverage {
  int64_t samples = 0;
  int64_t modes_captured = 0;
  int64_t modes_total = 0;
  double high_quality_share = 0;   // high-quality points / all points
  double kl_from_uniform = 0;      // NaN if no high-quality point
  double jsd_from_uniform = 0;     // NaN if no high-quality point
  std::vector<int64_t> histogram;  // high-quality points per mode
};

// The mixture's modes as a [K, 2] float64 CPU tensor, row k = centers[k]: what coverage measures against, and
// what a TorchScript export carries for tools outside gantry (common/mixture2d.h stays torch-free).
torch::Tensor mixture_centers(const Mixture2D& mixture);

// points: [N, 2], N ≥ 1. Throws std::invalid_argument otherwise.
ModeCoverage mode_coverage(const torch::Tensor& points, const Mixture2D& mixture);

}  // namespace gantry::eval
