// DCGAN [Radford et al. 2016] for 28², 32², 64², and SGAN: the same generator
// with its deep upsampling layers replaced by stochastic deconvolution banks
// [seed "Stochastic Deconvolutional Neural Network Ensemble…"].
//
// G: z → linear → (c0, s0, s0) → norm, ReLU → n_up × [deconv 4×4 s2 → norm, ReLU]
//    where s0 = 7 (28²) or 4, c halves per layer from c0 = w·2^(n_up−1);
//    DCGAN: the last deconv writes the image (tanh);
//    SGAN: the first `sdeconv_layers` upsamplings are banks (WN + PReLU), the
//    rest plain; a shared 3×3 conv writes the image (tanh). Split-loss maps:
//    the s0 projection and every bank's output.
// D: conv 4×4 s2 (image → w, no norm), then n_up−1 × [conv 4×4 s2, norm,
//    LeakyReLU 0.2] doubling widths down to s0; features = flatten; head.
// Init N(0, 0.02²) (TECHNIQUES.md).
#include <cmath>

#include "models/architectures.h"
#include "models/blocks.h"
#include "models/conv_stack_discriminator.h"
#include "models/stochastic_deconv.h"

namespace gantry::models {

namespace {

int64_t start_size(int64_t res) { return res == 28 ? 7 : 4; }
int64_t upsamplings(int64_t res) { return static_cast<int64_t>(std::lround(std::log2(double(res) / start_size(res)))); }

class DcganGenerator : public Generator {
 public:
  DcganGenerator(const ModelConfig& c, dist::Communicator* sync) : sgan_(c.arch == Arch::kSgan), seed_(c.seed) {
    z_dim_ = c.z_dim;
    const int64_t w = c.g_width > 0 ? c.g_width : 64;
    s0_ = start_size(c.resolution);
    const int64_t n_up = upsamplings(c.resolution);
    c0_ = w << (n_up - 1);
    vbn_.init(*this, c);
    project_ = register_module("project", make_layer(LayerKind::kLinear, c.z_dim, c0_ * s0_ * s0_, 1, 1, 0,
                                                     c.g_weight_norm, Init::kNormal002, !cancels_bias(c.g_norm)));
    norms_.push_back(register_module("norm0", NormLayer(c.g_norm, c0_, sync)));
    int64_t ch = c0_;
    n_banks_ = sgan_ ? std::min(c.sdeconv_layers, n_up) : 0;
    for (int64_t i = 0; i < n_up; ++i) {
      const bool last = i == n_up - 1;
      const int64_t out = (!sgan_ && last) ? c.channels : std::max<int64_t>(ch / 2, w / 2);
      if (i < n_banks_) {
        StochasticDeconvOptions o;
        o.in = ch;
        o.out = out;
        o.filter_sets = c.sdeconv_sets;
        banks_.push_back(register_module("bank" + std::to_string(i), StochasticDeconv(o)));
      } else {
        const bool normed = sgan_ || !last;
        ups_.push_back(register_module("up" + std::to_string(i),
                                       make_layer(LayerKind::kDeconv, ch, out, 4, 2, 1, c.g_weight_norm, Init::kNormal002,
                                                  !(normed && cancels_bias(c.g_norm)))));
        if (sgan_ || !last) norms_.push_back(register_module("norm" + std::to_string(i + 1), NormLayer(c.g_norm, out, sync)));
      }
      ch = out;
    }
    if (sgan_) to_image_ = register_module("to_image", make_layer(LayerKind::kConv, ch, c.channels, 3, 1, 1,
                                                                  c.g_weight_norm, Init::kNormal002));
    couples_ = c.g_norm == NormKind::kBatch;  // VBN normalizes each sample by a fixed reference batch: no coupling
  }

  torch::Tensor forward(const torch::Tensor& z) override {
    const auto zz = vbn_.prepend(z);
    const int64_t n_ref = vbn_.rows();
    auto x = project_->forward(zz).view({zz.size(0), c0_, s0_, s0_});
    x = torch::relu(norms_[0]->forward(x, n_ref));
    split_maps_.clear();
    if (sgan_) split_maps_.push_back(vbn_.live(x));
    size_t plain = 0, norm = 1;
    for (int64_t i = 0; i < n_banks_ + static_cast<int64_t>(ups_.size()); ++i) {
      if (i < n_banks_) {
        // Routes for the reference rows are drawn past the live ones' indices (offset by 2^40).
        auto routes = draw_routes(seed_, route_.step, i, route_.first_sample, z.size(0), banks_[i]->filter_sets());
        if (n_ref) routes = torch::cat({draw_routes(seed_, route_.step, i, int64_t{1} << 40, n_ref, banks_[i]->filter_sets()), routes});
        x = banks_[i]->forward(x, routes);
        split_maps_.push_back(vbn_.live(x));
      } else {
        x = ups_[plain++]->forward(x);
        if (norm < norms_.size()) x = torch::relu(norms_[norm++]->forward(x, n_ref));
      }
    }
    if (sgan_) x = to_image_->forward(x);
    return torch::tanh(vbn_.live(x));
  }

  std::vector<WeightLayer> direal_layers() const override {
    // Every deconv but the one writing the image; bank filter sets count as layers.
    std::vector<WeightLayer> out;
    for (const auto& b : banks_)
      for (const auto& child : b->named_children())
        if (auto wl = std::dynamic_pointer_cast<WeightLayerImpl>(child.value())) out.emplace_back(wl);
    for (size_t i = 0; i < ups_.size(); ++i)
      if (sgan_ || i + 1 < ups_.size()) out.push_back(ups_[i]);
    return out;
  }
  bool couples_samples() const override { return couples_; }

 private:
  bool sgan_;
  uint64_t seed_;
  int64_t s0_ = 0, c0_ = 0, n_banks_ = 0;
  bool couples_ = false;
  VbnReference vbn_;
  WeightLayer project_{nullptr}, to_image_{nullptr};
  std::vector<NormLayer> norms_;
  std::vector<WeightLayer> ups_;
  std::vector<StochasticDeconv> banks_;
};

}  // namespace

std::shared_ptr<Generator> make_dcgan_generator(const ModelConfig& c, dist::Communicator* bn_sync) {
  return std::make_shared<DcganGenerator>(c, bn_sync);
}
std::shared_ptr<Discriminator> make_dcgan_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                        dist::Communicator* mbd_sync) {
  // 4×4 stride-2 convs doubling the width down to the start size, LeakyReLU 0.2 (Radford et al.).
  const int64_t w = c.d_width > 0 ? c.d_width : 64;
  std::vector<ConvSpec> specs;
  for (int64_t i = 0; i < upsamplings(c.resolution); ++i) specs.push_back({w << i, 4, 2, 1});
  return make_conv_stack_discriminator(c, specs, start_size(c.resolution), 0.2, bn_sync, mbd_sync);
}

}  // namespace gantry::models
