// MLPs for 2-D mixtures (ring of 8, grid of 25; VEEGAN / PacGAN setups):
// Widths: g_width / d_width, else mlp_hidden; depths (linear layers): mlp_depth,
// D mlp_d_depth if set.
// G: z → depth−1 × [linear hidden, norm, ReLU] → linear data_dim; with
//    mlp_banks = b > 0 (SGAN for 2-D) the first b hidden layers are stochastic
//    banks of K linear filter sets, each with weight norm and its own PReLU
//    (models/stochastic_deconv with LayerKind::kLinear), routed per sample.
// D: x → depth−1 × [linear hidden, LeakyReLU 0.2] → features → head; with
//    d_activation = maxout each hidden layer is linear hidden·pieces followed
//    by the max over each unit's `pieces` consecutive outputs (PacGAN's D:
//    Blocks' LinearMaxout). With packing D reads pack·data_dim features.
// Weights: mlp_init (PacGAN: N(0, 0.02²)); biases 0.
#include "models/architectures.h"
#include "models/blocks.h"
#include "models/script_export.h"
#include "models/stochastic_deconv.h"

namespace gantry::models {

namespace {

class MlpGenerator : public Generator {
 public:
  MlpGenerator(const ModelConfig& c, dist::Communicator* sync) : seed_(c.seed) {
    z_dim_ = c.z_dim;
    vbn_.init(*this, c);
    int64_t in = c.z_dim;
    const int64_t hidden = c.g_width > 0 ? c.g_width : c.mlp_hidden;
    for (int64_t i = 0; i + 1 < c.mlp_depth; ++i) {
      const std::string n = std::to_string(i);
      if (i < c.mlp_banks) {
        StochasticDeconvOptions o;
        o.in = in;
        o.out = hidden;
        o.filter_sets = c.sdeconv_sets;
        o.kind = LayerKind::kLinear;
        banks_.push_back(register_module("bank" + n, StochasticDeconv(o)));
      } else {
        layers_.push_back(register_module("fc" + n, WeightLayer(WeightLayerOptions::linear(in, hidden)
                                                                    .norm(c.g_weight_norm)
                                                                    .init(c.mlp_init)
                                                                    .bias(!cancels_bias(c.g_norm)))));
        norms_.push_back(register_module("norm" + n, NormLayer(c.g_norm, hidden, sync, c)));
      }
      in = hidden;
    }
    out_ = register_module(
        "out", WeightLayer(WeightLayerOptions::linear(in, c.data_dim).norm(c.g_weight_norm).init(c.mlp_init)));
    couples_ = c.g_norm == NormKind::kBatch &&
               !layers_.empty();  // VBN normalizes each sample by a fixed reference batch: no coupling
  }
  torch::Tensor forward(const torch::Tensor& z) override {
    auto h = vbn_.prepend(z);
    const int64_t n_ref = vbn_.rows();
    split_maps_.clear();
    for (size_t i = 0; i < banks_.size(); ++i) {
      // Routes of the reference rows are drawn past the live ones' indices (as in dcgan.cpp).
      const int64_t k = banks_[i]->filter_sets(), layer = static_cast<int64_t>(i);
      auto routes = draw_routes(seed_, route_.step, layer, route_.first_sample, z.size(0), k);
      if (n_ref) routes = torch::cat({draw_routes(seed_, route_.step, layer, int64_t{1} << 40, n_ref, k), routes});
      h = banks_[i]->forward(h, routes);
      split_maps_.push_back(vbn_.live(h).view({-1, h.size(1), 1, 1}));  // split loss takes (B, C, H, W) maps
    }
    for (size_t i = 0; i < layers_.size(); ++i)
      h = torch::relu(norms_[i]->forward(layers_[i]->forward(h), vbn_.rows()));
    return vbn_.live(out_->forward(h));
  }
  // forward above, line by line, as TorchScript.
  torch::jit::Module to_torchscript() override {
    script::GeneratorSource s(*this, vbn_, seed_);
    for (size_t i = 0; i < banks_.size(); ++i)
      s.line("    h = " + s.add(*banks_[i]) + "(h, " + s.routes(static_cast<int64_t>(i), banks_[i]->filter_sets()) +
             ")");
    for (size_t i = 0; i < layers_.size(); ++i)
      s.line("    h = torch.relu(" + s.add(*norms_[i]) + "(" + s.add(*layers_[i]) + "(h), n_ref))");
    return s.finish(s.live(s.add(*out_) + "(h)"));
  }
  // DiReAL on the hidden layers after the first (a neuron's weight row is its filter; bank filter
  // sets count as layers): not the one writing the point, nor the one reading z, whose filters
  // live in R^z_dim (2-D here), where hundreds of them cannot be dissimilar.
  std::vector<WeightLayer> direal_layers() const override {
    std::vector<WeightLayer> all;
    for (const auto& b : banks_)
      for (const auto& child : b->named_children())
        if (auto wl = std::dynamic_pointer_cast<WeightLayerImpl>(child.value())) all.emplace_back(wl);
    const size_t first_bank_sets = banks_.empty() ? 1 : static_cast<size_t>(banks_[0]->filter_sets());
    std::vector<WeightLayer> out(all.begin() + std::min(first_bank_sets, all.size()), all.end());
    for (size_t i = banks_.empty() ? 1 : 0; i < layers_.size(); ++i) out.push_back(layers_[i]);
    return out;
  }
  bool couples_samples() const override { return couples_; }
  std::vector<WeightLayer> output_layers() const override { return {out_}; }

 private:
  uint64_t seed_;
  bool couples_ = false;
  VbnReference vbn_;
  std::vector<StochasticDeconv> banks_;
  std::vector<WeightLayer> layers_;
  std::vector<NormLayer> norms_;
  WeightLayer out_{nullptr};
};

class MlpDiscriminator : public Discriminator {
 public:
  MlpDiscriminator(const ModelConfig& c, dist::Communicator* bn_sync, dist::Communicator* mbd_sync)
      : pieces_(c.d_activation == DActivation::kMaxout ? c.maxout_pieces : 1) {
    int64_t in = c.data_dim * c.pack;
    const int64_t hidden = c.d_width > 0 ? c.d_width : c.mlp_hidden;
    const int64_t depth = c.mlp_d_depth > 0 ? c.mlp_d_depth : c.mlp_depth;
    for (int64_t i = 0; i + 1 < depth; ++i) {
      layers_.push_back(register_module(
          "fc" + std::to_string(i),
          WeightLayer(WeightLayerOptions::linear(in, hidden * pieces_).norm(c.d_weight_norm).init(c.mlp_init))));
      norms_.push_back(register_module("norm" + std::to_string(i), NormLayer(c.d_norm, hidden, bn_sync, c)));
      in = hidden;
    }
    head_ = register_module("head", DHead(in, c, c.mlp_init, mbd_sync));
    couples_ = c.d_norm == NormKind::kBatch || c.mbd_kernels > 0;
  }
  DOutput forward(const torch::Tensor& x) override {
    auto h = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
      h = layers_[i]->forward(h);
      if (pieces_ > 1) {
        // Maxout: unit u is the max of outputs u·pieces .. u·pieces + pieces − 1 (norm after the max); no other
        // nonlinearity.
        h = norms_[i]->forward(std::get<0>(h.view({h.size(0), -1, pieces_}).max(2)));
      } else {
        h = torch::leaky_relu(norms_[i]->forward(h), 0.2);
      }
    }
    return {head_->forward(h), h};
  }
  // Every hidden layer but the one reading the point (as the conv nets skip the image-reading conv).
  std::vector<WeightLayer> direal_layers() const override { return {layers_.begin() + 1, layers_.end()}; }
  bool couples_samples() const override { return couples_; }
  std::vector<WeightLayer> input_layers() const override { return {layers_[0]}; }

 private:
  int64_t pieces_;
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
