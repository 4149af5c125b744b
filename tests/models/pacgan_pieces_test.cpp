// PacGAN's 2-D networks and packing [Lin et al. 2018; fjxmlzn/PacGAN]: the
// maxout discriminator against the layer written out by hand, packing's
// layout, the MLP's separate widths/depths and N(0, 0.02²) init; DiReAL's
// "all" scope (image layers) and the input-channel rows of a one-filter layer.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/networks.h"
#include "reg/direal.h"

using namespace gantry::models;

namespace {

ModelConfig pacgan_2d() {
  ModelConfig c;
  c.arch = Arch::kMlp;
  c.z_dim = 2;
  c.data_dim = 2;
  c.mlp_hidden = 400;
  c.g_width = 400;
  c.mlp_depth = 5;
  c.d_width = 200;
  c.mlp_d_depth = 4;
  c.d_activation = DActivation::kMaxout;
  c.maxout_pieces = 5;
  c.mlp_init = Init::kNormal002;
  c.d_norm = NormKind::kNone;
  c.d_weight_norm = WeightNorm::kNone;
  c.g_weight_norm = WeightNorm::kNone;
  return c;
}

std::map<std::string, torch::Tensor> params(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value();
  return out;
}

}  // namespace

TEST(Pacgan, NetworksHavePacgansShapesAndInit) {
  torch::manual_seed(0);
  const auto c = pacgan_2d();
  auto g = build_generator(c);
  auto d = build_discriminator(c);
  const auto gp = params(*g), dp = params(*d);
  // G: 2 → 400 → 400 → 400 → 400 → 2; hidden layers without bias (BN follows), output with one.
  EXPECT_EQ(gp.at("fc0.weight").sizes(), (torch::IntArrayRef{400, 2}));
  for (const char* k : {"fc1.weight", "fc2.weight", "fc3.weight"})
    EXPECT_EQ(gp.at(k).sizes(), (torch::IntArrayRef{400, 400}));
  EXPECT_EQ(gp.count("fc0.bias"), 0u);
  EXPECT_EQ(gp.at("out.weight").sizes(), (torch::IntArrayRef{2, 400}));
  EXPECT_EQ(gp.count("fc4.weight"), 0u);
  // D: 2 → maxout(200 × 5) → maxout(200 × 5) → maxout(200 × 5) → 1.
  EXPECT_EQ(dp.at("fc0.weight").sizes(), (torch::IntArrayRef{1000, 2}));
  EXPECT_EQ(dp.at("fc1.weight").sizes(), (torch::IntArrayRef{1000, 200}));
  EXPECT_EQ(dp.at("fc2.weight").sizes(), (torch::IntArrayRef{1000, 200}));
  EXPECT_EQ(dp.count("fc3.weight"), 0u);
  EXPECT_EQ(dp.at("head.out.weight").sizes(), (torch::IntArrayRef{1, 200}));
  // Every weight N(0, 0.02²) (the head has only 200 draws: 15 % on the std), biases 0.
  for (const auto& [k, p] : dp) {
    if (k.find("bias") != std::string::npos) {
      EXPECT_EQ(p.abs().max().item<double>(), 0.0) << k;
    } else {
      EXPECT_NEAR(p.std().item<double>(), 0.02, 0.02 * 0.15) << k;
      EXPECT_NEAR(p.mean().item<double>(), 0.0, 0.003) << k;
    }
  }
  EXPECT_NEAR(gp.at("fc1.weight").std().item<double>(), 0.02, 0.001);
}

TEST(Pacgan, MaxoutDiscriminatorIsTheMaxOverEachUnitsPieces) {
  torch::manual_seed(1);
  auto c = pacgan_2d();
  auto d = build_discriminator(c);
  for (auto& p : d->parameters()) {  // biases non-zero so that they take part
    torch::NoGradGuard ng;
    p.normal_(0, 0.3);
  }
  const auto x = torch::randn({7, 2});
  const auto p = params(*d);
  // Written out: unit u of layer l is max_k (W x + b)[u·5 + k] (Blocks' LinearMaxout groups consecutive outputs).
  auto h = x;
  for (const char* l : {"fc0", "fc1", "fc2"}) {
    const auto y = torch::matmul(h, p.at(std::string(l) + ".weight").t()) + p.at(std::string(l) + ".bias");
    auto units = torch::empty({y.size(0), y.size(1) / 5});
    for (int64_t i = 0; i < y.size(0); ++i)
      for (int64_t u = 0; u < units.size(1); ++u) units[i][u] = y[i].narrow(0, u * 5, 5).max();
    h = units;
  }
  const auto expect = (torch::matmul(h, p.at("head.out.weight").t()) + p.at("head.out.bias")).reshape({-1});
  const auto out = d->forward(x);
  EXPECT_TRUE(torch::allclose(out.logits, expect, 1e-5, 1e-5)) << out.logits << expect;
  EXPECT_TRUE(torch::allclose(out.features, h, 1e-5, 1e-5));
  // Maxout is for the MLP D only, and needs two pieces.
  ModelConfig conv;
  conv.d_activation = DActivation::kMaxout;
  EXPECT_THROW(validate(conv), std::invalid_argument);
  c.maxout_pieces = 1;
  EXPECT_THROW(validate(c), std::invalid_argument);
}

TEST(Pacgan, PackingPutsConsecutiveSamplesSideBySide) {
  const auto x = torch::arange(12, torch::kFloat).view({6, 2});  // sample i = (2i, 2i+1)
  const auto p = pack_samples(x, 3);
  ASSERT_EQ(p.sizes(), (torch::IntArrayRef{2, 6}));
  EXPECT_TRUE(torch::equal(p[0], torch::arange(0, 6, torch::kFloat)));
  EXPECT_TRUE(torch::equal(p[1], torch::arange(6, 12, torch::kFloat)));
  // Images: along channels, sample-major.
  const auto img = torch::randn({4, 1, 3, 3});
  const auto pi = pack_samples(img, 2);
  ASSERT_EQ(pi.sizes(), (torch::IntArrayRef{2, 2, 3, 3}));
  EXPECT_TRUE(torch::equal(pi[1][0], img[2][0]));
  EXPECT_TRUE(torch::equal(pi[1][1], img[3][0]));
  EXPECT_TRUE(pack_samples(x, 1).is_same(x));
  EXPECT_THROW(pack_samples(x, 4), std::invalid_argument);
  // A packed D reads m·F inputs and gives one logit per pack, for every architecture.
  auto c = pacgan_2d();
  c.pack = 4;
  auto d = build_discriminator(c);
  EXPECT_EQ(params(*d).at("fc0.weight").size(1), 8);
  EXPECT_EQ(d->forward(pack_samples(torch::randn({12, 2}), 4)).logits.size(0), 3);
  for (const auto arch : {Arch::kDcgan, Arch::kSnganCnn, Arch::kResnet}) {
    ModelConfig ic;
    ic.arch = arch;
    ic.resolution = 32;
    ic.pack = 2;
    auto di = build_discriminator(ic);
    EXPECT_EQ(di->forward(pack_samples(torch::randn({4, 3, 32, 32}), 2)).logits.size(0), 2) << gantry::enum_name(arch);
  }
}

TEST(Pacgan, InputFilterMatrixGroupsByInputUnit) {
  WeightLayer deconv(WeightLayerOptions::deconv(5, 1, 4));
  const auto& w = deconv->raw_weight();  // (in 5, out 1, 4, 4)
  const auto m = deconv->input_filter_matrix();
  ASSERT_EQ(m.sizes(), (torch::IntArrayRef{5, 16}));
  EXPECT_TRUE(torch::equal(m[3], w[3].reshape({-1})));
  EXPECT_EQ(deconv->filter_matrix().size(0), 1);        // one output filter
  WeightLayer conv(WeightLayerOptions::conv(4, 2, 3));  // (out 2, in 4, 3, 3)
  const auto mc = conv->input_filter_matrix();
  ASSERT_EQ(mc.sizes(), (torch::IntArrayRef{4, 18}));
  EXPECT_TRUE(torch::equal(mc[1].view({2, 9}), conv->raw_weight().select(1, 1).reshape({2, 9})));
  WeightLayer lin(WeightLayerOptions::linear(3, 2));
  EXPECT_TRUE(torch::equal(lin->input_filter_matrix(), lin->raw_weight().t()));
}

TEST(Pacgan, DirealAllScopeAddsTheImageLayersAndActsOnOneChannelData) {
  using gantry::reg::Direal;
  using gantry::reg::DirealScope;
  torch::manual_seed(3);
  ModelConfig c;  // Fashion-MNIST DCGAN: 1 channel, 28²
  c.resolution = 28;
  c.channels = 1;
  c.z_dim = 64;
  c.d_weight_norm = WeightNorm::kNone;
  auto g = build_generator(c);
  auto d = build_discriminator(c);
  const auto gh = gantry::reg::direal_layers(*g, DirealScope::kHidden);
  const auto ga = gantry::reg::direal_layers(*g, DirealScope::kAll);
  const auto dh = gantry::reg::direal_layers(*d, DirealScope::kHidden);
  const auto da = gantry::reg::direal_layers(*d, DirealScope::kAll);
  ASSERT_EQ(ga.size(), gh.size() + 1);
  ASSERT_EQ(da.size(), dh.size() + 1);
  EXPECT_EQ(ga.back()->options().out(), 1);  // G's image-writing deconv
  EXPECT_EQ(da.front()->options().in(), 1);  // D's image-reading conv
  // At init the hidden layers' long rows (≥ 1024) never reach |cos| 0.5: R = 0 (the finding) …
  EXPECT_EQ(Direal(gh, {0.5, 1.0}).value().item<double>(), 0.0);
  EXPECT_EQ(Direal(dh, {0.5, 1.0}).value().item<double>(), 0.0);
  // … the image layers' 16-long rows do; the one-filter G layer is compared along its 64 input channels.
  const double rg = Direal(ga, {0.5, 1.0}).value().item<double>();
  const double rd = Direal(da, {0.5, 1.0}).value().item<double>();
  EXPECT_GT(rd, 0.0);
  EXPECT_GT(rg, 0.0);
  const auto& out = ga.back();
  EXPECT_NEAR(rg, gantry::reg::direal_layer_penalty(out->raw_weight().reshape({64, 16}), 0.5).item<double>(), 1e-9);
  EXPECT_NEAR(rd, gantry::reg::direal_layer_penalty(da.front()->filter_matrix(), 0.5).item<double>(), 1e-9);
  // The penalty's gradient reaches those layers.
  Direal(da, {0.5, 1.0}).value().backward();
  EXPECT_GT(da.front()->raw_weight().grad().abs().sum().item<double>(), 0.0);
}
