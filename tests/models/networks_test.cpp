// Every architecture at every supported resolution: output shapes, forward and
// backward on CPU; normalisation variants; VBN per-example independence; SGAN
// routes and split maps; DiReAL layer choice; refused configurations.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "models/batch_norm.h"
#include "models/networks.h"
#include "reg/compatibility.h"

using namespace gantry::models;
using gantry::enum_name;
using gantry::parse_enum;

namespace {

struct Case {
  std::string arch;
  int64_t res;
  int64_t channels;
};

void expect_trains(const ModelConfig& c, const std::string& what) {
  auto g = build_generator(c);
  auto d = build_discriminator(c);
  const int64_t b = 3;
  const auto z = torch::randn({b, c.z_dim});
  const auto x = g->forward(z);
  if (c.arch == Arch::kMlp) {
    ASSERT_EQ(x.sizes(), (torch::IntArrayRef{b, c.data_dim})) << what;
  } else {
    ASSERT_EQ(x.sizes(), (torch::IntArrayRef{b, c.channels, c.resolution, c.resolution})) << what;
    EXPECT_LE(x.abs().max().item<double>(), 1.0) << what << ": G output outside [-1, 1]";
  }
  const auto out = d->forward(x);
  ASSERT_EQ(out.logits.sizes(), (torch::IntArrayRef{b})) << what;
  ASSERT_EQ(out.features.dim(), 2) << what;
  ASSERT_EQ(out.features.size(0), b) << what;
  out.logits.sum().backward();
  // Every parameter gets a gradient, except the filter sets of a bank no sample chose (sgan).
  std::set<std::string> banks, banks_with_grad;
  for (const auto& p : g->named_parameters()) {
    const bool has = p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0;
    if (p.key().rfind("bank", 0) == 0) {
      const auto bank = p.key().substr(0, p.key().find('.'));
      banks.insert(bank);
      if (has) banks_with_grad.insert(bank);
    } else {
      EXPECT_TRUE(has) << what << ": G." << p.key() << " has no gradient";
    }
  }
  EXPECT_EQ(banks_with_grad, banks) << what << ": a bank whose chosen sets got no gradient";
  EXPECT_EQ(banks.empty(), c.arch != Arch::kSgan) << what;
  for (const auto& p : d->named_parameters()) EXPECT_TRUE(p.value().grad().defined()) << what << ": D." << p.key();
  EXPECT_FALSE(x.isnan().any().item<bool>()) << what;
}

}  // namespace

TEST(Networks, EveryArchitectureAtEverySupportedResolution) {
  const std::vector<Case> cases = {{"dcgan", 28, 1},  {"dcgan", 32, 3},  {"dcgan", 64, 3},     {"sgan", 28, 1},
                                   {"sgan", 32, 3},   {"sgan", 64, 3},   {"sngan_cnn", 32, 3}, {"sngan_cnn", 48, 3},
                                   {"resnet", 32, 3}, {"resnet", 48, 3}, {"resnet", 128, 3},   {"resnet", 256, 3},
                                   {"mlp", 0, 0}};
  for (const auto& k : cases) {
    ModelConfig c;
    c.arch = parse_enum<Arch>(k.arch);
    c.resolution = k.res;
    c.channels = k.channels;
    if (k.arch == "mlp") c.z_dim = 2;
    expect_trains(c, k.arch + " " + std::to_string(k.res));
  }
}

TEST(Networks, NormalisationVariants) {
  for (auto gn : {"none", "bn", "ln", "vbn"})
    for (auto dn : {"none", "bn", "ln"})
      for (auto wn : {"none", "sn", "wn"}) {
        ModelConfig c;
        c.arch = Arch::kDcgan;
        c.resolution = 32;
        c.g_norm = parse_enum<NormKind>(gn);
        c.d_norm = parse_enum<NormKind>(dn);
        c.g_weight_norm = c.d_weight_norm = parse_enum<WeightNorm>(wn);
        c.vbn_reference = 8;
        expect_trains(c, std::string("g ") + gn + " d " + dn + " w " + wn);
      }
  ModelConfig c;
  c.arch = Arch::kSnganCnn;
  c.mbd_kernels = 16;
  expect_trains(c, "sngan_cnn + minibatch discrimination");
  EXPECT_TRUE(build_discriminator(c)->couples_samples());
  c.mbd_kernels = 0;
  EXPECT_FALSE(build_discriminator(c)->couples_samples());
}

TEST(Networks, VirtualBatchNormMakesSamplesIndependent) {
  for (const std::string arch : {"dcgan", "resnet", "mlp"}) {
    ModelConfig c;
    c.arch = parse_enum<Arch>(arch);
    c.g_norm = NormKind::kVirtualBatch;
    c.vbn_reference = 6;
    if (arch == "mlp") c.z_dim = 2;
    auto g = build_generator(c);
    const auto z = torch::randn({4, c.z_dim});
    auto z2 = z.clone();
    z2[1] = torch::randn({c.z_dim}) * 3;
    const auto a = g->forward(z), b = g->forward(z2);
    EXPECT_TRUE(torch::allclose(a[0], b[0], 1e-5, 1e-6)) << arch;
    EXPECT_TRUE(torch::allclose(a[3], b[3], 1e-5, 1e-6)) << arch;
    EXPECT_FALSE(torch::allclose(a[1], b[1])) << arch;
    EXPECT_FALSE(g->couples_samples()) << arch;
    // The reference batch is a buffer: broadcast by the replica sync and kept in checkpoints.
    EXPECT_EQ(g->named_buffers()["vbn_z_ref"].sizes(), (torch::IntArrayRef{6, c.z_dim})) << arch;
  }
  // With batch norm instead, samples do depend on each other.
  ModelConfig c;
  auto g = build_generator(c);
  const auto z = torch::randn({4, c.z_dim});
  auto z2 = z.clone();
  z2[1] = torch::randn({c.z_dim}) * 3;
  EXPECT_FALSE(torch::allclose(g->forward(z)[0], g->forward(z2)[0], 1e-5, 1e-6));
  EXPECT_TRUE(g->couples_samples());
}

TEST(Networks, StochasticRoutesAndSplitMaps) {
  ModelConfig c;
  c.arch = Arch::kSgan;
  c.resolution = 64;
  c.sdeconv_sets = 8;
  c.sdeconv_layers = 4;
  auto g = build_generator(c);
  g->eval();  // BN from running statistics: outputs depend only on z and routes
  const auto z = torch::randn({6, c.z_dim});
  g->set_route_context({5, 0});
  const auto a = g->forward(z);
  ASSERT_EQ(g->split_maps().size(), 5u);  // the 4² projection + 4 banks: 8², 16², 32², 64²
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(g->split_maps()[i].size(2), int64_t{4} << i);
  EXPECT_TRUE(torch::equal(g->forward(z), a)) << "same context, same routes";
  g->set_route_context({6, 0});
  EXPECT_FALSE(torch::allclose(g->forward(z), a)) << "another step draws other routes";
  // Sample-wise shardable: rank 1 of 2 (first_sample 3) computes rows 3..5 of the 1-rank batch.
  g->set_route_context({5, 3});
  EXPECT_TRUE(torch::allclose(g->forward(z.narrow(0, 3, 3)), a.narrow(0, 3, 3), 1e-5, 1e-6));
}

TEST(Networks, MlpWithStochasticBanks) {
  // SGAN for 2-D: the first mlp_banks hidden layers are routed banks of 1x1 filter sets.
  ModelConfig c;
  c.arch = Arch::kMlp;
  c.z_dim = 2;
  c.mlp_hidden = 16;
  c.mlp_depth = 4;
  c.mlp_banks = 2;
  c.sdeconv_sets = 4;
  auto g = build_generator(c);
  g->eval();
  const auto z = torch::randn({6, 2});
  g->set_route_context({3, 0});
  const auto a = g->forward(z);
  EXPECT_EQ(a.sizes(), (torch::IntArrayRef{6, 2}));
  ASSERT_EQ(g->split_maps().size(), 2u);
  EXPECT_EQ(g->split_maps()[0].sizes(), (torch::IntArrayRef{6, 16, 1, 1}));
  g->set_route_context({4, 0});
  EXPECT_FALSE(torch::allclose(g->forward(z), a)) << "another step draws other routes";
  g->set_route_context({3, 3});
  EXPECT_TRUE(torch::allclose(g->forward(z.narrow(0, 3, 3)), a.narrow(0, 3, 3), 1e-5, 1e-6));
  // DiReAL: the second bank's 4 filter sets and the plain hidden layer fc2; not the z-reading bank, not "out".
  const auto layers = g->direal_layers();
  ASSERT_EQ(layers.size(), 5u);
  for (const auto& l : layers) EXPECT_EQ(l->options().in(), 16);
  c.mlp_banks = 4;  // more banks than hidden layers
  EXPECT_THROW(validate(c), std::invalid_argument);
}

TEST(Networks, BatchNormMomentumAndEpsComeFromTheConfig) {
  // PacGAN's 2-D G: model.bn_momentum / bn_eps reach every BN layer; one training-mode forward moves the
  // running mean from 0 to momentum · (batch mean), and eval normalizes with the running variance + eps.
  ModelConfig c;
  c.arch = Arch::kMlp;
  c.z_dim = 2;
  c.mlp_hidden = 8;
  c.mlp_depth = 3;
  c.g_norm = NormKind::kBatch;
  c.bn_momentum = 0.05;
  c.bn_eps = 1e-4;
  auto g = build_generator(c);
  int bns = 0;
  for (const auto& m : g->modules(false))
    if (const auto* bn = m->as<BatchNormImpl>()) {
      EXPECT_EQ(bn->options().momentum, 0.05);
      EXPECT_EQ(bn->options().eps, 1e-4);
      ++bns;
    }
  EXPECT_EQ(bns, 2) << "one BN per hidden layer";
  // The first BN's input, recomputed by hand from the first linear layer (no bias before BN).
  torch::Tensor w1, rm, rv;
  for (const auto& p : g->named_parameters())
    if (p.key().find("weight") != std::string::npos && p.value().dim() == 2 && p.value().size(1) == 2) w1 = p.value();
  for (const auto& b : g->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos && !rm.defined()) rm = b.value();
    if (b.key().find("running_var") != std::string::npos && !rv.defined()) rv = b.value();
  }
  ASSERT_TRUE(w1.defined() && rm.defined() && rv.defined());
  const auto z = torch::randn({32, 2});
  g->train();
  g->forward(z);
  const auto h = torch::matmul(z, w1.t());
  EXPECT_TRUE(torch::allclose(rm, 0.05 * h.mean(0), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(rv, 0.95 + 0.05 * h.var(0, /*unbiased=*/true), 1e-5, 1e-6));
  c.bn_momentum = 0;
  EXPECT_THROW(validate(c), std::invalid_argument);
  c.bn_momentum = 0.1;
  c.bn_eps = -1;
  EXPECT_THROW(validate(c), std::invalid_argument);
}

TEST(Networks, DirealLayersNeverTouchImageChannels) {
  for (const std::string arch : {"dcgan", "sgan", "sngan_cnn", "resnet"}) {
    ModelConfig c;
    c.arch = parse_enum<Arch>(arch);
    c.resolution = 32;
    auto g = build_generator(c);
    auto d = build_discriminator(c);
    EXPECT_FALSE(g->direal_layers().empty()) << arch;
    EXPECT_FALSE(d->direal_layers().empty()) << arch;
    for (const auto& l : g->direal_layers()) {
      EXPECT_NE(l->options().kind(), LayerKind::kLinear) << arch;
      EXPECT_NE(l->options().out(), c.channels) << arch << ": a G layer writing the image";
    }
    for (const auto& l : d->direal_layers()) {
      EXPECT_NE(l->options().kind(), LayerKind::kLinear) << arch;
      EXPECT_NE(l->options().in(), c.channels) << arch << ": a D layer reading the image";
    }
  }
}

TEST(Networks, RefusedConfigurations) {
  auto refused = [](ModelConfig c, gantry::reg::DTechniques t, const std::string& needle) {
    try {
      gantry::reg::check_compatible(c, t);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  ModelConfig bn;
  bn.d_norm = NormKind::kBatch;
  ModelConfig mbd;
  mbd.mbd_kernels = 10;
  using gantry::reg::GradNorm;
  refused(bn, {GradNorm::kGN, false, false},
          "gradient normalization (GN) needs per-sample gradients of D and cannot be combined with batch norm in D");
  refused(mbd, {GradNorm::kPGN, false, false},
          "penalty gradient normalization (PGN) needs per-sample gradients of D and cannot be combined with minibatch "
          "discrimination in D");
  refused(bn, {GradNorm::kNone, true, false}, "WGAN-GP");
  refused(mbd, {GradNorm::kNone, false, true}, "R1");
  ModelConfig vbn_d;
  vbn_d.d_norm = NormKind::kVirtualBatch;
  refused(vbn_d, {}, "virtual batch norm is for G only");
  ModelConfig res;
  res.arch = Arch::kSnganCnn;
  res.resolution = 64;
  refused(res, {}, "sngan_cnn supports resolutions 32, 48, not 64");
  EXPECT_NO_THROW(gantry::reg::check_compatible(ModelConfig{}, {GradNorm::kGN, true, true}));  // no coupling in D
  EXPECT_THROW(parse_enum<NormKind>("group"), std::invalid_argument);
  EXPECT_EQ(parse_enum<NormKind>("batch"), NormKind::kBatch) << "the long names stay accepted (old saved configs)";
  EXPECT_EQ(enum_name(NormKind::kBatch), "bn");
  try {
    parse_enum<Arch>("stylegan");
    ADD_FAILURE() << "stylegan accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "must be dcgan, sngan_cnn, resnet, sgan or mlp, not 'stylegan'");
  }
}
