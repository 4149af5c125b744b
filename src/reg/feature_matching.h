// Feature matching [Salimans et al. 2016 §3.1; docs/TECHNIQUES.md]:
//   L_G = ‖mean_real f_D(x) − mean_fake f_D(G(z))‖²  (squared L2, default)
//   or mean |·| over features (the improved-gan CIFAR code), option.
// f_D: D's penultimate features. The real mean is detached. Means are over the
// GLOBAL batch (differentiable all-reduce of per-rank sums), so N ranks equal
// 1 rank; the result is the same value on every rank.
#pragma once
#include <torch/torch.h>

#include "common/named_enum.h"

#include "dist/communicator.h"

namespace gantry::reg {

enum class FeatureMatchingDistance { kSquaredL2, kMeanAbs };
inline constexpr EnumName<FeatureMatchingDistance> kFeatureMatchingDistanceNames[] = {
    {FeatureMatchingDistance::kSquaredL2, "l2"}, {FeatureMatchingDistance::kMeanAbs, "mean_abs"}};
constexpr std::span<const EnumName<FeatureMatchingDistance>> enum_names(FeatureMatchingDistance) {
  return kFeatureMatchingDistanceNames;
}

torch::Tensor feature_matching_loss(const torch::Tensor& real_features, const torch::Tensor& fake_features,
                                    FeatureMatchingDistance distance = FeatureMatchingDistance::kSquaredL2,
                                    dist::Communicator* sync = nullptr);

}  // namespace gantry::reg
