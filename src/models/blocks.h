// Building blocks shared by the architectures: a weighted layer with the
// network's weight norm and init, and an activation-normalisation layer of
// the configured kind (none, per-rank or synchronized batch norm, layer norm,
// virtual batch norm).
#pragma once
#include <torch/torch.h>

#include "models/batch_norm.h"
#include "models/minibatch_discrimination.h"
#include "models/model_config.h"
#include "models/virtual_batch_norm.h"
#include "models/weight_layer.h"

namespace gantry::models {

// Batch norm and VBN subtract a per-channel mean, so a bias in the layer before
// them has no effect on the output and only a rounding-noise gradient, which
// Adam would amplify into lr-sized random steps: such layers get no bias.
inline bool cancels_bias(NormKind k) { return k == NormKind::kBatch || k == NormKind::kVirtualBatch; }

class NormLayerImpl : public torch::nn::Module {
 public:
  // sync: the communicator of synchronized batch norm, or null for per-rank statistics;
  // c: the model config (batch norm's momentum and eps).
  NormLayerImpl(NormKind kind, int64_t channels, dist::Communicator* sync, const ModelConfig& c);
  // n_ref: rows of the VBN reference batch at the front of x (VBN only).
  torch::Tensor forward(const torch::Tensor& x, int64_t n_ref = 0);
  NormKind kind() const { return kind_; }

 private:
  NormKind kind_;
  BatchNorm bn_{nullptr};
  torch::nn::GroupNorm ln_{nullptr};
  VirtualBatchNorm vbn_{nullptr};
};
TORCH_MODULE(NormLayer);

}  // namespace gantry::models

namespace gantry::models {

// D's last step: penultimate features → [minibatch discrimination] → linear → logits (B).
class DHeadImpl : public torch::nn::Module {
 public:
  // mbd_sync: communicator for a global-batch minibatch discrimination, or null.
  DHeadImpl(int64_t features, const ModelConfig& config, Init init, dist::Communicator* mbd_sync);
  torch::Tensor forward(const torch::Tensor& features);
  bool has_mbd() const { return !mbd_.is_empty(); }

 private:
  MinibatchDiscrimination mbd_{nullptr};
  WeightLayer out_{nullptr};
};
TORCH_MODULE(DHead);

// The VBN reference batch of a generator: z_ref (n_ref, z_dim) drawn at
// construction and kept as a buffer, so the replica broadcast makes rank 0's
// draw everyone's and checkpoints keep it.
class VbnReference {
 public:
  void init(torch::nn::Module& g, const ModelConfig& config);
  bool active() const { return z_ref_.defined(); }
  int64_t rows() const { return active() ? z_ref_.size(0) : 0; }
  torch::Tensor prepend(const torch::Tensor& z) const {
    return active() ? torch::cat({z_ref_.to(z.dtype()), z}, 0) : z;
  }
  torch::Tensor live(const torch::Tensor& y) const { return active() ? y.narrow(0, rows(), y.size(0) - rows()) : y; }

 private:
  torch::Tensor z_ref_;
};

}  // namespace gantry::models
