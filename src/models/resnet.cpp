// SNGAN/GN-GAN ResNets [Miyato et al. 2018; Wu et al. 2021] for 32², 48²,
// 128², 256² (CelebA-HQ). Channel tables (w = base width, default 64):
//   G32  4w,4w,4w,4w from 4²          D32  2w↓,2w↓,2w,2w
//   G48  8w,4w,2w,w from 6²           D48  w↓,2w↓,4w↓,8w↓,16w
//   G128 16w,16w,8w,4w,2w,w from 4²   D128 w↓,2w↓,4w↓,8w↓,16w↓,16w
//   G256 16w,16w,8w,8w,4w,2w,w        D256 w↓,2w↓,4w↓,8w↓,8w↓,16w↓,16w
// (G128 = TECHNIQUES.md's 1024→1024→512→256→128→64; 256 adds one 8w stage.)
// G block: norm, ReLU, up ×2 (nearest), conv3, norm, ReLU, conv3; shortcut
//   up + conv1. Out: norm, ReLU, conv3 → image, tanh.
// D block: ReLU, conv3, [norm], ReLU, conv3, [norm], [avgpool 2]; shortcut
//   conv1 + [avgpool] when channels change or it downsamples. The first block
//   ("optimized"): conv3, ReLU, conv3, avgpool; shortcut avgpool + conv1.
//   Features: ReLU then sum over positions; head.
// Init: Kaiming normal, biases 0 (TECHNIQUES.md).
#include "models/architectures.h"
#include "models/blocks.h"
#include "models/script_export.h"

namespace gantry::models {

namespace {

namespace F = torch::nn::functional;

torch::Tensor up2(const torch::Tensor& x) {
  return F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2, 2}).mode(torch::kNearest));
}
torch::Tensor down2(const torch::Tensor& x) { return F::avg_pool2d(x, F::AvgPool2dFuncOptions(2)); }

// The blocks' 3×3 "same" conv, He-initialized.
WeightLayer conv3(int64_t in, int64_t out, WeightNorm norm, bool bias) {
  return WeightLayer(WeightLayerOptions::conv(in, out, 3).padding(1).norm(norm).init(Init::kKaimingNormal).bias(bias));
}

struct Tables {
  int64_t start;
  std::vector<int64_t> g;  // channels: g[0] at the start size, then one per block
  std::vector<int64_t> d;
  std::vector<bool> d_down;
};

Tables tables(int64_t res, int64_t gw, int64_t dw) {
  switch (res) {
    case 32:
      return {4, {4 * gw, 4 * gw, 4 * gw, 4 * gw}, {2 * dw, 2 * dw, 2 * dw, 2 * dw}, {true, true, false, false}};
    case 48:
      return {6, {8 * gw, 4 * gw, 2 * gw, gw}, {dw, 2 * dw, 4 * dw, 8 * dw, 16 * dw}, {true, true, true, true, false}};
    case 128:
      return {4,
              {16 * gw, 16 * gw, 8 * gw, 4 * gw, 2 * gw, gw},
              {dw, 2 * dw, 4 * dw, 8 * dw, 16 * dw, 16 * dw},
              {true, true, true, true, true, false}};
    default:
      return {4,
              {16 * gw, 16 * gw, 8 * gw, 8 * gw, 4 * gw, 2 * gw, gw},
              {dw, 2 * dw, 4 * dw, 8 * dw, 8 * dw, 16 * dw, 16 * dw},
              {true, true, true, true, true, true, false}};
  }
}

class GBlockImpl : public torch::nn::Module {
 public:
  GBlockImpl(int64_t in, int64_t out, const ModelConfig& c, dist::Communicator* sync) {
    n1 = register_module("norm1", NormLayer(c.g_norm, in, sync, c));
    c1 = register_module("conv1", conv3(in, out, c.g_weight_norm, !cancels_bias(c.g_norm)));
    n2 = register_module("norm2", NormLayer(c.g_norm, out, sync, c));
    // Under BN/VBN every per-channel constant before out_norm is normalised away (block outputs
    // reach the next norm directly or through a linear shortcut): no biases there.
    c2 = register_module("conv2", conv3(out, out, c.g_weight_norm, !cancels_bias(c.g_norm)));
    sc = register_module("shortcut", WeightLayer(WeightLayerOptions::conv(in, out, 1)
                                                     .norm(c.g_weight_norm)
                                                     .init(Init::kKaimingNormal)
                                                     .bias(!cancels_bias(c.g_norm))));
  }
  torch::Tensor forward(const torch::Tensor& x, int64_t n_ref) {
    auto h = c1->forward(up2(torch::relu(n1->forward(x, n_ref))));
    h = c2->forward(torch::relu(n2->forward(h, n_ref)));
    return h + sc->forward(up2(x));
  }
  // forward above as TorchScript; up2 as F::interpolate calls ATen.
  torch::jit::Module to_torchscript() {
    torch::jit::Module t("gantry_GBlock");
    for (torch::nn::Module* m :
         std::initializer_list<torch::nn::Module*>{n1.get(), c1.get(), n2.get(), c2.get(), sc.get()})
      t.register_module(script::child_name(*this, *m), script::layer(*m));
    t.define(R"(
def _up2(self, x: Tensor) -> Tensor:
    return torch.upsample_nearest2d(x, [x.size(2) * 2, x.size(3) * 2], 2.0, 2.0)

def forward(self, x: Tensor, n_ref: int) -> Tensor:
    h = self.conv1.forward(self._up2(torch.relu(self.norm1.forward(x, n_ref))))
    h = self.conv2.forward(torch.relu(self.norm2.forward(h, n_ref)))
    return h + self.shortcut.forward(self._up2(x))
)");
    return t;
  }
  NormLayer n1{nullptr}, n2{nullptr};
  WeightLayer c1{nullptr}, c2{nullptr}, sc{nullptr};
};
TORCH_MODULE(GBlock);

class ResnetGenerator : public Generator {
 public:
  ResnetGenerator(const ModelConfig& c, dist::Communicator* sync) {
    z_dim_ = c.z_dim;
    t_ = tables(c.resolution, c.g_width > 0 ? c.g_width : 64, 64);
    vbn_.init(*this, c);
    project_ = register_module("project", WeightLayer(WeightLayerOptions::linear(c.z_dim, t_.g[0] * t_.start * t_.start)
                                                          .norm(c.g_weight_norm)
                                                          .init(Init::kKaimingNormal)
                                                          .bias(!cancels_bias(c.g_norm))));
    for (size_t i = 0; i + 1 < t_.g.size(); ++i)
      blocks_.push_back(register_module("block" + std::to_string(i), GBlock(t_.g[i], t_.g[i + 1], c, sync)));
    out_norm_ = register_module("out_norm", NormLayer(c.g_norm, t_.g.back(), sync, c));
    to_image_ = register_module("to_image", conv3(t_.g.back(), c.channels, c.g_weight_norm, true));
    couples_ = c.g_norm == NormKind::kBatch;  // VBN normalizes each sample by a fixed reference batch: no coupling
  }
  torch::Tensor forward(const torch::Tensor& z) override {
    const auto zz = vbn_.prepend(z);
    const int64_t n_ref = vbn_.rows();
    auto x = project_->forward(zz).view({zz.size(0), t_.g[0], t_.start, t_.start});
    for (auto& b : blocks_) x = b->forward(x, n_ref);
    return torch::tanh(vbn_.live(to_image_->forward(torch::relu(out_norm_->forward(x, n_ref)))));
  }
  // forward above, line by line, as TorchScript.
  torch::jit::Module to_torchscript() override {
    script::GeneratorSource s(*this, vbn_, 0);
    const auto dims = std::to_string(t_.g[0]) + ", " + std::to_string(t_.start) + ", " + std::to_string(t_.start);
    s.line("    x = " + s.add(*project_) + "(h).view([h.size(0), " + dims + "])");
    for (auto& b : blocks_)
      s.line("    x = " + s.add(script::child_name(*this, *b), b->to_torchscript()) + "(x, n_ref)");
    const auto image = s.add(*to_image_) + "(torch.relu(" + s.add(*out_norm_) + "(x, n_ref)))";
    return s.finish("torch.tanh(" + s.live(image) + ")");
  }
  std::vector<WeightLayer> direal_layers() const override {
    std::vector<WeightLayer> out;
    for (const auto& b : blocks_) out.insert(out.end(), {b->c1, b->c2, b->sc});
    return out;
  }
  bool couples_samples() const override { return couples_; }
  std::vector<WeightLayer> output_layers() const override { return {to_image_}; }

 private:
  Tables t_;
  bool couples_ = false;
  VbnReference vbn_;
  WeightLayer project_{nullptr}, to_image_{nullptr};
  std::vector<GBlock> blocks_;
  NormLayer out_norm_{nullptr};
};

class DBlockImpl : public torch::nn::Module {
 public:
  DBlockImpl(int64_t in, int64_t out, bool down, bool first, const ModelConfig& c, dist::Communicator* sync)
      : down_(down), first_(first) {
    c1 = register_module("conv1", conv3(in, out, c.d_weight_norm, !cancels_bias(c.d_norm)));
    c2 = register_module("conv2", conv3(out, out, c.d_weight_norm, !cancels_bias(c.d_norm)));
    n1 = register_module("norm1", NormLayer(c.d_norm, out, sync, c));
    n2 = register_module("norm2", NormLayer(c.d_norm, out, sync, c));
    if (first || down || in != out)
      sc = register_module(
          "shortcut",
          WeightLayer(WeightLayerOptions::conv(in, out, 1).norm(c.d_weight_norm).init(Init::kKaimingNormal)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = first_ ? x : torch::relu(x);
    h = torch::relu(n1->forward(c1->forward(h)));
    h = n2->forward(c2->forward(h));
    if (down_) h = down2(h);
    torch::Tensor s = x;
    if (first_)
      s = sc->forward(down2(x));  // optimized block: pool first, then 1×1
    else if (!sc.is_empty())
      s = down_ ? down2(sc->forward(x)) : sc->forward(x);
    return h + s;
  }
  bool down_, first_;
  WeightLayer c1{nullptr}, c2{nullptr}, sc{nullptr};
  NormLayer n1{nullptr}, n2{nullptr};
};
TORCH_MODULE(DBlock);

class ResnetDiscriminator : public Discriminator {
 public:
  ResnetDiscriminator(const ModelConfig& c, dist::Communicator* bn_sync, dist::Communicator* mbd_sync) {
    const auto t = tables(c.resolution, 64, c.d_width > 0 ? c.d_width : 64);
    int64_t ch = c.channels * c.pack;
    for (size_t i = 0; i < t.d.size(); ++i) {
      blocks_.push_back(
          register_module("block" + std::to_string(i), DBlock(ch, t.d[i], t.d_down[i], i == 0, c, bn_sync)));
      ch = t.d[i];
    }
    head_ = register_module("head", DHead(ch, c, Init::kKaimingNormal, mbd_sync));
    couples_ = c.d_norm == NormKind::kBatch || c.mbd_kernels > 0;
  }
  DOutput forward(const torch::Tensor& x) override {
    auto h = x;
    for (auto& b : blocks_) h = b->forward(h);
    const auto features = torch::relu(h).sum({2, 3});
    return {head_->forward(features), features};
  }
  std::vector<WeightLayer> direal_layers() const override {
    std::vector<WeightLayer> out;
    for (size_t i = 0; i < blocks_.size(); ++i) {
      if (i > 0) out.push_back(blocks_[i]->c1);  // the first block's conv1 and shortcut read the image
      out.push_back(blocks_[i]->c2);
      if (i > 0 && !blocks_[i]->sc.is_empty()) out.push_back(blocks_[i]->sc);
    }
    return out;
  }
  bool couples_samples() const override { return couples_; }
  std::vector<WeightLayer> input_layers() const override { return {blocks_[0]->c1, blocks_[0]->sc}; }

 private:
  std::vector<DBlock> blocks_;
  DHead head_{nullptr};
  bool couples_ = false;
};

}  // namespace

std::shared_ptr<Generator> make_resnet_generator(const ModelConfig& c, dist::Communicator* bn_sync) {
  return std::make_shared<ResnetGenerator>(c, bn_sync);
}
std::shared_ptr<Discriminator> make_resnet_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                         dist::Communicator* mbd_sync) {
  return std::make_shared<ResnetDiscriminator>(c, bn_sync, mbd_sync);
}

}  // namespace gantry::models
