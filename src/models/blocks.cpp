#include "models/blocks.h"

namespace gantry::models {

NormLayerImpl::NormLayerImpl(NormKind kind, int64_t channels, dist::Communicator* sync, const ModelConfig& c)
    : kind_(kind) {
  switch (kind) {
    case NormKind::kNone:
      break;
    case NormKind::kBatch: {
      BatchNormOptions o;
      o.channels = channels;
      o.sync = sync;
      o.momentum = c.bn_momentum;
      o.eps = c.bn_eps;
      bn_ = register_module("bn", BatchNorm(o));
      break;
    }
    case NormKind::kLayer:  // normalise each sample over (C, H, W); per-channel affine
      ln_ = register_module("ln", torch::nn::GroupNorm(torch::nn::GroupNormOptions(1, channels)));
      break;
    case NormKind::kVirtualBatch:
      vbn_ = register_module("vbn", VirtualBatchNorm(channels));
      break;
  }
}

torch::Tensor NormLayerImpl::forward(const torch::Tensor& x, int64_t n_ref) {
  switch (kind_) {
    case NormKind::kNone:
      return x;
    case NormKind::kBatch:
      return bn_->forward(x);
    case NormKind::kLayer:
      return ln_->forward(x);
    case NormKind::kVirtualBatch:
      return vbn_->forward(x, n_ref);
  }
  return x;
}

}  // namespace gantry::models

namespace gantry::models {

DHeadImpl::DHeadImpl(int64_t features, const ModelConfig& c, Init init, dist::Communicator* sync) {
  int64_t in = features;
  if (c.mbd_kernels > 0) {
    MinibatchDiscriminationOptions o;
    o.in_features = features;
    o.kernels = c.mbd_kernels;
    o.kernel_dim = c.mbd_kernel_dim;
    o.sync = sync;  // always over the global batch (world-size invariance)
    mbd_ = register_module("mbd", MinibatchDiscrimination(o));
    in = mbd_->out_features();
  }
  out_ = register_module("out", WeightLayer(WeightLayerOptions::linear(in, 1).norm(c.d_weight_norm).init(init)));
}

torch::Tensor DHeadImpl::forward(const torch::Tensor& features) {
  const auto h = mbd_.is_empty() ? features : mbd_->forward(features);
  return out_->forward(h).reshape({-1});
}

void VbnReference::init(torch::nn::Module& g, const ModelConfig& c) {
  if (c.g_norm == NormKind::kVirtualBatch)
    z_ref_ = g.register_buffer("vbn_z_ref", torch::randn({c.vbn_reference, c.z_dim}));
}

}  // namespace gantry::models
