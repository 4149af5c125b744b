#include "models/conv_stack_discriminator.h"

#include "models/blocks.h"

namespace gantry::models {

namespace {

class ConvStackDiscriminator : public Discriminator {
 public:
  ConvStackDiscriminator(const ModelConfig& c, const std::vector<ConvSpec>& specs, int64_t final_size, double slope,
                         dist::Communicator* bn_sync, dist::Communicator* mbd_sync)
      : slope_(slope) {
    int64_t ch = c.channels * c.pack;
    for (size_t i = 0; i < specs.size(); ++i) {
      const auto& s = specs[i];
      const std::string n = std::to_string(i);
      convs_.push_back(register_module("conv" + n, WeightLayer(WeightLayerOptions::conv(ch, s.out, s.kernel)
                                                                   .stride(s.stride)
                                                                   .padding(s.padding)
                                                                   .norm(c.d_weight_norm)
                                                                   .bias(!(i > 0 && cancels_bias(c.d_norm))))));
      norms_.push_back(register_module("norm" + n, NormLayer(i == 0 ? NormKind::kNone : c.d_norm, s.out, bn_sync, c)));
      ch = s.out;
    }
    head_ = register_module("head", DHead(ch * final_size * final_size, c, Init::kNormal002, mbd_sync));
    couples_ = c.d_norm == NormKind::kBatch || c.mbd_kernels > 0;
  }
  DOutput forward(const torch::Tensor& x) override {
    auto h = x;
    for (size_t i = 0; i < convs_.size(); ++i) h = torch::leaky_relu(norms_[i]->forward(convs_[i]->forward(h)), slope_);
    const auto features = h.flatten(1);
    return {head_->forward(features), features};
  }
  // Every conv but the one reading the image.
  std::vector<WeightLayer> direal_layers() const override { return {convs_.begin() + 1, convs_.end()}; }
  bool couples_samples() const override { return couples_; }
  std::vector<WeightLayer> input_layers() const override { return {convs_[0]}; }

 private:
  double slope_;
  std::vector<WeightLayer> convs_;
  std::vector<NormLayer> norms_;
  DHead head_{nullptr};
  bool couples_ = false;
};

}  // namespace

std::shared_ptr<Discriminator> make_conv_stack_discriminator(const ModelConfig& c, const std::vector<ConvSpec>& specs,
                                                             int64_t final_size, double slope,
                                                             dist::Communicator* bn_sync,
                                                             dist::Communicator* mbd_sync) {
  return std::make_shared<ConvStackDiscriminator>(c, specs, final_size, slope, bn_sync, mbd_sync);
}

}  // namespace gantry::models
