#include "models/deconv_stack_generator.h"

#include "models/blocks.h"
#include "models/script_export.h"
#include "models/stochastic_deconv.h"

namespace gantry::models {

namespace {

class DeconvStackGenerator : public Generator {
 public:
  DeconvStackGenerator(const ModelConfig& c, const DeconvStackSpec& spec, dist::Communicator* sync)
      : stochastic_(spec.banks > 0), seed_(c.seed), s0_(spec.start_size), c0_(spec.start_channels) {
    z_dim_ = c.z_dim;
    vbn_.init(*this, c);
    const bool bias_before_norm = !cancels_bias(c.g_norm);
    project_ = register_module(
        "project",
        WeightLayer(WeightLayerOptions::linear(c.z_dim, c0_ * s0_ * s0_).norm(c.g_weight_norm).bias(bias_before_norm)));
    norms_.push_back(register_module("norm0", NormLayer(c.g_norm, c0_, sync, c)));
    int64_t ch = c0_;
    n_banks_ = std::min(spec.banks, spec.upsamplings);
    for (int64_t i = 0; i < spec.upsamplings; ++i) {
      const bool writes_image = spec.last_deconv_writes_image && i == spec.upsamplings - 1;
      const int64_t out = writes_image ? c.channels : std::max<int64_t>(ch / 2, spec.width / 2);
      if (i < n_banks_) {
        StochasticDeconvOptions o;
        o.in = ch;
        o.out = out;
        o.filter_sets = spec.bank_sets;
        banks_.push_back(register_module("bank" + std::to_string(i), StochasticDeconv(o)));
      } else {
        ups_.push_back(
            register_module("up" + std::to_string(i), WeightLayer(WeightLayerOptions::deconv(ch, out, 4)
                                                                      .stride(2)
                                                                      .padding(1)
                                                                      .norm(c.g_weight_norm)
                                                                      .bias(writes_image || bias_before_norm))));
        if (!writes_image)
          norms_.push_back(register_module("norm" + std::to_string(i + 1), NormLayer(c.g_norm, out, sync, c)));
      }
      ch = out;
    }
    if (!spec.last_deconv_writes_image)
      to_image_ = register_module(
          "to_image", WeightLayer(WeightLayerOptions::conv(ch, c.channels, 3).padding(1).norm(c.g_weight_norm)));
    writes_with_deconv_ = spec.last_deconv_writes_image;
    couples_ = c.g_norm == NormKind::kBatch;  // VBN normalizes each sample by a fixed reference batch: no coupling
  }

  torch::Tensor forward(const torch::Tensor& z) override {
    const auto zz = vbn_.prepend(z);
    const int64_t n_ref = vbn_.rows();
    auto x = project_->forward(zz).view({zz.size(0), c0_, s0_, s0_});
    x = torch::relu(norms_[0]->forward(x, n_ref));
    split_maps_.clear();
    if (stochastic_) split_maps_.push_back(vbn_.live(x));
    size_t plain = 0, norm = 1;
    for (int64_t i = 0; i < n_banks_ + static_cast<int64_t>(ups_.size()); ++i) {
      if (i < n_banks_) {
        // Routes for the reference rows are drawn past the live ones' indices (offset by 2^40).
        auto routes = draw_routes(seed_, route_.step, i, route_.first_sample, z.size(0), banks_[i]->filter_sets());
        if (n_ref)
          routes = torch::cat(
              {draw_routes(seed_, route_.step, i, int64_t{1} << 40, n_ref, banks_[i]->filter_sets()), routes});
        x = banks_[i]->forward(x, routes);
        split_maps_.push_back(vbn_.live(x));
      } else {
        x = ups_[plain++]->forward(x);
        if (norm < norms_.size()) x = torch::relu(norms_[norm++]->forward(x, n_ref));
      }
    }
    if (!to_image_.is_empty()) x = to_image_->forward(x);
    return torch::tanh(vbn_.live(x));
  }

  // forward above, line by line, as TorchScript.
  torch::jit::Module to_torchscript() override {
    script::GeneratorSource s(*this, vbn_, seed_);
    const auto dims = std::to_string(c0_) + ", " + std::to_string(s0_) + ", " + std::to_string(s0_);
    s.line("    x = " + s.add(*project_) + "(h).view([h.size(0), " + dims + "])");
    s.line("    x = torch.relu(" + s.add(*norms_[0]) + "(x, n_ref))");
    size_t plain = 0, norm = 1;
    for (int64_t i = 0; i < n_banks_ + static_cast<int64_t>(ups_.size()); ++i) {
      if (i < n_banks_) {
        s.line("    x = " + s.add(*banks_[i]) + "(x, " + s.routes(i, banks_[i]->filter_sets()) + ")");
      } else {
        s.line("    x = " + s.add(*ups_[plain++]) + "(x)");
        if (norm < norms_.size()) s.line("    x = torch.relu(" + s.add(*norms_[norm++]) + "(x, n_ref))");
      }
    }
    if (!to_image_.is_empty()) s.line("    x = " + s.add(*to_image_) + "(x)");
    return s.finish("torch.tanh(" + s.live("x") + ")");
  }

  std::vector<WeightLayer> direal_layers() const override {
    // Every deconv but one writing the image; bank filter sets count as layers.
    std::vector<WeightLayer> out;
    for (const auto& b : banks_)
      for (const auto& child : b->named_children())
        if (auto wl = std::dynamic_pointer_cast<WeightLayerImpl>(child.value())) out.emplace_back(wl);
    for (size_t i = 0; i < ups_.size(); ++i)
      if (!writes_with_deconv_ || i + 1 < ups_.size()) out.push_back(ups_[i]);
    return out;
  }
  std::vector<WeightLayer> output_layers() const override { return {writes_with_deconv_ ? ups_.back() : to_image_}; }
  bool couples_samples() const override { return couples_; }

 private:
  bool stochastic_;
  uint64_t seed_;
  int64_t s0_, c0_, n_banks_ = 0;
  bool writes_with_deconv_ = false, couples_ = false;
  VbnReference vbn_;
  WeightLayer project_{nullptr}, to_image_{nullptr};
  std::vector<NormLayer> norms_;
  std::vector<WeightLayer> ups_;
  std::vector<StochasticDeconv> banks_;
};

}  // namespace

std::shared_ptr<Generator> make_deconv_stack_generator(const ModelConfig& c, const DeconvStackSpec& spec,
                                                       dist::Communicator* bn_sync) {
  return std::make_shared<DeconvStackGenerator>(c, spec, bn_sync);
}

}  // namespace gantry::models
