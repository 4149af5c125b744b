// SNGAN "standard CNN" [Miyato et al. 2018, Table 3] for 32² and 48²:
// G: z → linear → (8w, s0, s0) [s0 = res/8], norm, ReLU → 3 × [deconv 4×4 s2
//    halving, norm, ReLU] → conv 3×3 → image, tanh   (w = 64: 512-256-128-64)
// D: conv3 w, conv4s2 w, conv3 2w, conv4s2 2w, conv3 4w, conv4s2 4w, conv3 8w
//    (LeakyReLU 0.1; d_norm after every conv but the first), features =
//    flatten (8w · s0²), head. Widths 64-64-128-128-256-256-512 as Miyato
//    (GN-GAN's doubled widths: d_width = 128). Init N(0, 0.02²).
#include "models/architectures.h"
#include "models/blocks.h"
#include "models/conv_stack_discriminator.h"

namespace gantry::models {

namespace {

class SnganCnnGenerator : public Generator {
 public:
  SnganCnnGenerator(const ModelConfig& c, dist::Communicator* sync) {
    z_dim_ = c.z_dim;
    const int64_t w = c.g_width > 0 ? c.g_width : 64;
    s0_ = c.resolution / 8;
    c0_ = 8 * w;
    vbn_.init(*this, c);
    project_ = register_module("project", make_layer(LayerKind::kLinear, c.z_dim, c0_ * s0_ * s0_, 1, 1, 0,
                                                     c.g_weight_norm, Init::kNormal002, !cancels_bias(c.g_norm)));
    norms_.push_back(register_module("norm0", NormLayer(c.g_norm, c0_, sync)));
    int64_t ch = c0_;
    for (int i = 0; i < 3; ++i) {
      ups_.push_back(register_module("up" + std::to_string(i),
                                     make_layer(LayerKind::kDeconv, ch, ch / 2, 4, 2, 1, c.g_weight_norm, Init::kNormal002,
                                                !cancels_bias(c.g_norm))));
      norms_.push_back(register_module("norm" + std::to_string(i + 1), NormLayer(c.g_norm, ch / 2, sync)));
      ch /= 2;
    }
    to_image_ = register_module("to_image", make_layer(LayerKind::kConv, ch, c.channels, 3, 1, 1, c.g_weight_norm,
                                                       Init::kNormal002));
    couples_ = c.g_norm == NormKind::kBatch;  // VBN normalizes each sample by a fixed reference batch: no coupling
  }
  torch::Tensor forward(const torch::Tensor& z) override {
    const auto zz = vbn_.prepend(z);
    const int64_t n_ref = vbn_.rows();
    auto x = torch::relu(norms_[0]->forward(project_->forward(zz).view({zz.size(0), c0_, s0_, s0_}), n_ref));
    for (size_t i = 0; i < ups_.size(); ++i) x = torch::relu(norms_[i + 1]->forward(ups_[i]->forward(x), n_ref));
    return torch::tanh(vbn_.live(to_image_->forward(x)));
  }
  std::vector<WeightLayer> direal_layers() const override { return ups_; }
  bool couples_samples() const override { return couples_; }

 private:
  int64_t s0_ = 0, c0_ = 0;
  bool couples_ = false;
  VbnReference vbn_;
  WeightLayer project_{nullptr}, to_image_{nullptr};
  std::vector<NormLayer> norms_;
  std::vector<WeightLayer> ups_;
};

}  // namespace

std::shared_ptr<Generator> make_sngan_cnn_generator(const ModelConfig& c, dist::Communicator* bn_sync) {
  return std::make_shared<SnganCnnGenerator>(c, bn_sync);
}
std::shared_ptr<Discriminator> make_sngan_cnn_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                            dist::Communicator* mbd_sync) {
  // Miyato et al. 2018, Table 3: 3×3 stride-1 / 4×4 stride-2 pairs, widths 64-64-128-128-256-256-512, LeakyReLU 0.1.
  const int64_t w = c.d_width > 0 ? c.d_width : 64;
  const std::vector<ConvSpec> specs = {{w, 3, 1, 1},     {w, 4, 2, 1},     {2 * w, 3, 1, 1}, {2 * w, 4, 2, 1},
                                       {4 * w, 3, 1, 1}, {4 * w, 4, 2, 1}, {8 * w, 3, 1, 1}};
  return make_conv_stack_discriminator(c, specs, c.resolution / 8, 0.1, bn_sync, mbd_sync);
}

}  // namespace gantry::models
