#include "models/weight_layer.h"

#include <stdexcept>

namespace gantry::models {

namespace F = torch::nn::functional;

WeightLayerImpl::WeightLayerImpl(const WeightLayerOptions& o) : opt_(o) {
  if (o.in() <= 0 || o.out() <= 0 || o.kernel() <= 0 || o.stride() <= 0 || o.padding() < 0)
    throw std::invalid_argument("weight layer: sizes must be positive");
  std::vector<int64_t> shape;
  int64_t fan_in = o.in();
  switch (o.kind()) {
    case LayerKind::kConv:
      shape = {o.out(), o.in(), o.kernel(), o.kernel()};
      fan_in = o.in() * o.kernel() * o.kernel();
      break;
    case LayerKind::kDeconv:
      shape = {o.in(), o.out(), o.kernel(), o.kernel()};
      fan_in = o.in() * o.kernel() * o.kernel();
      break;
    case LayerKind::kLinear:
      shape = {o.out(), o.in()};
      break;
  }
  auto w = torch::empty(shape);
  {
    torch::NoGradGuard ng;
    switch (o.init()) {
      case Init::kNormal002:
        w.normal_(0, 0.02);
        break;  // DCGAN [Radford et al. 2016]
      case Init::kKaimingNormal:
        w.normal_(0, std::sqrt(2.0 / fan_in));
        break;  // He et al. 2015, fan-in, ReLU gain
      case Init::kXavierUniform: {
        const int64_t fan_out = o.kind() == LayerKind::kLinear ? o.out() : o.out() * o.kernel() * o.kernel();
        const double a = std::sqrt(6.0 / (fan_in + fan_out));
        w.uniform_(-a, a);
        break;
      }
    }
  }
  weight_ = register_parameter("weight", w);
  if (o.bias()) bias_ = register_parameter("bias", torch::zeros({o.out()}));
  if (o.norm() == WeightNorm::kWeight) {
    // g initialised to ‖v_i‖ so that the initial effective weight equals v.
    gain_ = register_parameter("gain", matrix_of(weight_).detach().norm(2, 1));
  } else if (o.norm() == WeightNorm::kSpectral) {
    const auto m = matrix_of(weight_);
    u_ = register_buffer("sn_u",
                         F::normalize(torch::randn({m.size(0)}), F::NormalizeFuncOptions().dim(0).eps(o.sn_eps())));
    v_ = register_buffer("sn_v",
                         F::normalize(torch::randn({m.size(1)}), F::NormalizeFuncOptions().dim(0).eps(o.sn_eps())));
  }
}

torch::Tensor WeightLayerImpl::matrix_of(const torch::Tensor& w) const {
  if (opt_.kind() == LayerKind::kDeconv) return w.transpose(0, 1).reshape({w.size(1), -1});
  return w.reshape({w.size(0), -1});
}

torch::Tensor WeightLayerImpl::filter_matrix() const { return matrix_of(weight_); }

torch::Tensor WeightLayerImpl::input_filter_matrix() const {
  if (opt_.kind() == LayerKind::kDeconv) return weight_.reshape({weight_.size(0), -1});
  return weight_.transpose(0, 1).reshape({weight_.size(1), -1});
}

torch::Tensor WeightLayerImpl::effective_weight() {
  if (opt_.norm() == WeightNorm::kNone) return weight_;
  const auto m = matrix_of(weight_);
  if (opt_.norm() == WeightNorm::kWeight) {
    // w_i = g_i v_i / ‖v_i‖, reshaped back to the weight's layout.
    const auto scale = gain_ / m.norm(2, 1);
    if (opt_.kind() == LayerKind::kDeconv) return weight_ * scale.view({1, -1, 1, 1});
    std::vector<int64_t> view(weight_.dim(), 1);
    view[0] = -1;
    return weight_ * scale.view(view);
  }
  if (is_training()) {
    torch::NoGradGuard ng;
    const auto md = m.detach();
    const auto opts = F::NormalizeFuncOptions().dim(0).eps(opt_.sn_eps());
    v_.copy_(F::normalize(torch::mv(md.t(), u_), opts));
    u_.copy_(F::normalize(torch::mv(md, v_), opts));
  }
  // Clones: u and v change in place at the next training forward, which must
  // not alter what this graph saved for backward.
  sigma_ = torch::dot(u_.clone(), torch::mv(m, v_.clone()));
  return weight_ / sigma_;
}

torch::Tensor WeightLayerImpl::forward(const torch::Tensor& x) {
  const auto w = effective_weight();
  switch (opt_.kind()) {
    case LayerKind::kConv:
      return F::conv2d(x, w, F::Conv2dFuncOptions().bias(bias_).stride(opt_.stride()).padding(opt_.padding()));
    case LayerKind::kDeconv:
      return F::conv_transpose2d(
          x, w, F::ConvTranspose2dFuncOptions().bias(bias_).stride(opt_.stride()).padding(opt_.padding()));
    case LayerKind::kLinear:
      return F::linear(x, w, bias_);
  }
  return {};
}

}  // namespace gantry::models
