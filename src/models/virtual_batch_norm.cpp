#include "models/virtual_batch_norm.h"

namespace gantry::models {

VirtualBatchNormImpl::VirtualBatchNormImpl(int64_t channels, double eps) : channels_(channels), eps_(eps) {
  if (channels <= 0) throw std::invalid_argument("virtual batch norm: channels must be positive");
  gamma_ = register_parameter("weight", torch::ones({channels}));
  beta_ = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor VirtualBatchNormImpl::forward(const torch::Tensor& x, int64_t n_ref) {
  if (n_ref <= 0 || n_ref > x.size(0)) throw std::invalid_argument("virtual batch norm needs the reference rows first");
  if (x.size(1) != channels_) throw std::invalid_argument("virtual batch norm: channel count mismatch");
  std::vector<int64_t> spatial, view = {1, channels_};
  for (int64_t d = 2; d < x.dim(); ++d) {
    spatial.push_back(d);
    view.push_back(1);
  }
  std::vector<int64_t> ref_dims = {0};
  ref_dims.insert(ref_dims.end(), spatial.begin(), spatial.end());
  const auto ref = x.narrow(0, 0, n_ref);
  const auto mu_ref = ref.mean(ref_dims).view(view);
  const auto q_ref = ref.square().mean(ref_dims).view(view);
  auto norm = [&](const torch::Tensor& v, const torch::Tensor& mu, const torch::Tensor& q) {
    return (v - mu) * torch::rsqrt(q - mu.square() + eps_) * gamma_.view(view) + beta_.view(view);
  };
  const auto y_ref = norm(ref, mu_ref, q_ref);
  const int64_t n_live = x.size(0) - n_ref;
  if (n_live == 0) return y_ref;
  const auto live = x.narrow(0, n_ref, n_live);
  // A sample's own moments: over its spatial positions (the value itself for (N, C) inputs).
  const auto mu_x = spatial.empty() ? live : live.mean(spatial, /*keepdim=*/true);
  const auto q_x = spatial.empty() ? live.square() : live.square().mean(spatial, /*keepdim=*/true);
  const double c = 1.0 / (n_ref + 1);
  const auto mu = c * mu_x + (1 - c) * mu_ref;
  const auto q = c * q_x + (1 - c) * q_ref;
  return torch::cat({y_ref, norm(live, mu, q)}, 0);
}

}  // namespace gantry::models
