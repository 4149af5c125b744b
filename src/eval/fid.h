// Fréchet Inception Distance [Heusel et al. 2017; docs/EVALUATION.md]:
//   FID = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2})
// with unbiased covariances, in float64. The matrix square root is taken by
// eigendecomposition of Σ_r Σ_g (diagonalizable: similar to the PSD
// Σ_r^{1/2} Σ_g Σ_r^{1/2}); a non-finite result is retried with ε·I added to
// both covariances, and an imaginary diagonal above a tolerance is an error
// (the checks of the reference implementations).
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>

namespace gantry::eval {

struct FeatureStats {
  torch::Tensor mean;  // float64 [F]
  torch::Tensor cov;   // float64 [F, F], unbiased (divided by n − 1)
  int64_t count = 0;
};

// Statistics of features [N, F] (N ≥ 2), accumulated in float64.
FeatureStats feature_stats(const torch::Tensor& features);

struct FrechetOptions {
  double eps = 1e-6;        // the ε·I of the retry
  double imag_atol = 1e-3;  // largest tolerated |Im| on the diagonal of the square root
};

struct FrechetResult {
  double fid = 0;
  double mean_term = 0;    // ‖μ_r − μ_g‖²
  double trace_sqrt = 0;   // Tr (Σ_r Σ_g)^{1/2}
  bool eps_retry = false;  // the ε·I retry was needed
};

// Throws std::runtime_error on mismatched dimensions or an imaginary square root.
FrechetResult frechet_distance(const FeatureStats& a, const FeatureStats& b, const FrechetOptions& options = {});

// Statistics files (reference statistics cached once per dataset and feature
// network): mean, cov, count and string metadata (what they were computed
// from), written atomically with an xxHash3 of the tensors that load verifies.
void save_stats(const std::filesystem::path& file, const FeatureStats& stats,
                const std::map<std::string, std::string>& meta);
// Throws std::invalid_argument naming the file if it is missing, damaged or not a statistics file.
FeatureStats load_stats(const std::filesystem::path& file, std::map<std::string, std::string>* meta = nullptr);

}  // namespace gantry::eval
