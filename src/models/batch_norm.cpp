#include "models/batch_norm.h"

#include "dist/all_reduce_autograd.h"

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
  std::vector<int64_t> dims = {0}, view = {1, opt_.channels};
  for (int64_t d = 2; d < x.dim(); ++d) {
    dims.push_back(d);
    view.push_back(1);
  }
  torch::Tensor mean, var;
  if (is_training()) {
    double count = static_cast<double>(x.numel() / opt_.channels);
    if (synchronized()) {
      auto& comm = *opt_.sync;
      auto n = torch::full({1}, count, x.options().dtype(torch::kDouble).requires_grad(false));
      comm.all_reduce(n, dist::ReduceOp::kSum);
      count = n.item<double>();
      mean = dist::all_reduce_sum_with_grad(x.sum(dims), comm) / count;
      const auto centered = x - mean.view(view);
      var = dist::all_reduce_sum_with_grad(centered.square().sum(dims), comm) / count;
    } else {
      mean = x.mean(dims);
      var = (x - mean.view(view)).square().mean(dims);
    }
    if (count < 2) throw std::invalid_argument("batch norm needs more than one value per channel in training");
    torch::NoGradGuard ng;
    const double m = opt_.momentum;
    running_mean_.mul_(1 - m).add_(mean.detach(), m);
    running_var_.mul_(1 - m).add_(var.detach() * (count / (count - 1)), m);
  } else {
    mean = running_mean_;
    var = running_var_;
  }
  auto y = (x - mean.view(view)) * torch::rsqrt(var.view(view) + opt_.eps);
  if (opt_.affine) y = y * weight_.view(view) + bias_.view(view);
  return y;
}

}  // namespace gantry::models
