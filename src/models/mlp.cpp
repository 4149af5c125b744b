// MLPs for 2-D mixtures (ring of 8, grid of 25; VEEGAN / PacGAN setups):
// G: z → depth−1 × [linear hidden, norm, ReLU] → linear data_dim
// D: x → depth−1 × [linear hidden, LeakyReLU 0.2] → features → head.
#include "models/architectures.h"
#include "models/blocks.h"

namespace gantry::models {

namespace {

class MlpGenerator : public Generator {
 public:
  MlpGenerator(const ModelConfig& c, dist::Communicator* sync) {
    z_dim_ = c.z_dim;
    vbn_.init(*this, c);
    int64_t in = c.z_dim;
    for (int64_t i = 0; i + 1 < c.mlp_depth; ++i) {
      layers_.push_back(register_module("fc" + std::to_string(i), make_layer(LayerKind::kLinear, in, c.mlp_hidden, 1, 1, 0,
                                                                            c.g_weight_norm, Init::kKaimingNormal,
                                                                            !cancels_bias(c.g_norm))));
      norms_.push_back(register_module("norm" + std::to_string(i), NormLayer(c.g_norm, c.mlp_hidden, sync)));
      in = c.mlp_hidden;
    }
    out_ = register_module("out", make_layer(LayerKind::kLinear, in, c.data_dim, 1, 1, 0, c.g_weight_norm, Init::kKaimingNormal));
    couples_ = c.g_norm == NormKind::kBatch || c.g_norm == NormKind::kVirtualBatch;
  }
  torch::Tensor forward(const torch::Tensor& z) override {
    auto h = vbn_.prepend(z);
    for (size_t i = 0; i < layers_.size(); ++i) h = torch::relu(norms_[i]->forward(layers_[i]->forward(h), vbn_.rows()));
    return vbn_.live(out_->forward(h));
  }
  std::vector<WeightLayer> direal_layers() const override { return {}; }  // DiReAL regularizes conv filters only
  bool couples_samples() const override { return couples_; }

 private:
  bool couples_ = false;
  VbnReference vbn_;
  std::vector<WeightLayer> layers_;
  std::vector<NormLayer> norms_;
  WeightLayer out_{nullptr};
};

class MlpDiscriminator : public Discriminator {
 public:
  MlpDiscriminator(const ModelConfig& c, dist::Communicator* bn_sync, dist::Communicator* mbd_sync) {
    int64_t in = c.data_dim;
    for (int64_t i = 0; i + 1 < c.mlp_depth; ++i) {
      layers_.push_back(register_module("fc" + std::to_string(i), make_layer(LayerKind::kLinear, in, c.mlp_hidden, 1, 1, 0,
                                                                            c.d_weight_norm, Init::kKaimingNormal)));
      norms_.push_back(register_module("norm" + std::to_string(i), NormLayer(c.d_norm, c.mlp_hidden, bn_sync)));
      in = c.mlp_hidden;
    }
    head_ = register_module("head", DHead(in, c, Init::kKaimingNormal, mbd_sync));
    couples_ = c.d_norm == NormKind::kBatch || c.mbd_kernels > 0;
  }
  DOutput forward(const torch::Tensor& x) override {
    auto h = x;
    for (size_t i = 0; i < layers_.size(); ++i) h = torch::leaky_relu(norms_[i]->forward(layers_[i]->forward(h)), 0.2);
    return {head_->forward(h), h};
  }
  std::vector<WeightLayer> direal_layers() const override { return {}; }
  bool couples_samples() const override { return couples_; }

 private:
  std::vector<WeightLayer> layers_;
  std::vector<NormLayer> norms_;
  DHead head_{nullptr};
  bool couples_ = false;
};

}  // namespace

std::shared_ptr<Generator> make_mlp_generator(const ModelConfig& c, dist::Communicator* bn_sync) {
  return std::make_shared<MlpGenerator>(c, bn_sync);
}
std::shared_ptr<Discriminator> make_mlp_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                      dist::Communicator* mbd_sync) {
  return std::make_shared<MlpDiscriminator>(c, bn_sync, mbd_sync);
}

}  // namespace gantry::models
