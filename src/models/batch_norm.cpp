#include "models/batch_norm.h"

#include <ATen/ATen.h>

#include "models/sync_batch_norm.h"

namespace gantry::models {

BatchNormImpl::BatchNormImpl(const BatchNormOptions& o) : opt_(o) {
  if (o.channels <= 0) throw std::invalid_argument("batch norm: channels must be positive");
  if (o.affine) {
    weight_ = register_parameter("weight", torch::ones({o.channels}));
    bias_ = register_parameter("bias", torch::zeros({o.channels}));
  }
  running_mean_ = register_buffer("running_mean", torch::zeros({o.channels}));
  running_var_ = register_buffer("running_var", torch::ones({o.channels}));
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 2 && x.dim() != 4) throw std::invalid_argument("batch norm expects (N, C) or (N, C, H, W)");
  if (x.size(1) != opt_.channels) throw std::invalid_argument("batch norm: channel count mismatch");
  if (is_training() && synchronized())
    return sync_batch_norm(x, weight_, bias_, running_mean_, running_var_, {opt_.eps, opt_.momentum, opt_.sync});
  if (is_training() && x.numel() / opt_.channels < 2)
    throw std::invalid_argument("batch norm needs more than one value per channel in training");
  // ATen's fused kernel: statistics, normalisation and affine in one op (and its
  // backward in one), running statistics updated in place (unbiased variance).
  return at::batch_norm(x, weight_, bias_, running_mean_, running_var_, is_training(), opt_.momentum, opt_.eps,
                        /*cudnn_enabled=*/true);
}

}  // namespace gantry::models
