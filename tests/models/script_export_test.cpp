// Generators' TorchScript twins (models/script_export.h), in process: the
// twin's route draws equal draw_routes for many bank sizes and sample
// indices, and every family × normalisation computes exactly what the C++
// generator computes in eval mode, before and after a save/load round trip.
// (tests/e2e/torchscript_export.sh checks the same from Python.)
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <sstream>

#include "models/networks.h"
#include "models/stochastic_deconv.h"

using namespace gantry::models;

namespace {

ModelConfig small(Arch arch, int64_t res, int64_t channels) {
  ModelConfig c;
  c.arch = arch;
  c.resolution = res;
  c.channels = channels;
  c.z_dim = 12;
  c.g_width = 8;
  c.d_width = 8;
  c.vbn_reference = 5;
  c.seed = 0xC0FFEE12345678ull;  // above 2^31, with high bits: the twin's int64 arithmetic must wrap as uint64
  return c;
}

torch::jit::Module round_trip(const torch::jit::Module& m) {
  std::stringstream buf;
  m.save(buf);
  return torch::jit::load(buf);
}

}  // namespace

TEST(ScriptExport, RoutesEqualDrawRoutes) {
  auto c = small(Arch::kSgan, 28, 1);
  auto g = build_generator(c);
  g->eval();
  auto twin = g->to_torchscript();
  for (const int64_t k : {2, 3, 5, 7, 8, 16, 1000003, 2147483647}) {
    for (const int64_t first : {int64_t{0}, int64_t{12345}, int64_t{1} << 40, (int64_t{1} << 62) + 7}) {
      for (const int64_t step : {0, 1, 987654321}) {
        const int64_t layer = k % 3, n = 512;
        const auto want = draw_routes(c.seed, step, layer, first, n, k);
        const auto got = twin.run_method("draw_routes", step, layer, first, n, k).toTensor();
        ASSERT_TRUE(torch::equal(got, want)) << "k " << k << " first " << first << " step " << step;
      }
    }
  }
}

TEST(ScriptExport, TwinsComputeWhatGeneratorsCompute) {
  struct Variant {
    Arch arch;
    int64_t res, channels;
    NormKind norm;
    WeightNorm weight_norm;
    int64_t mlp_banks = 0;
  };
  const std::vector<Variant> variants = {
      {Arch::kDcgan, 28, 1, NormKind::kBatch, WeightNorm::kNone},
      {Arch::kDcgan, 64, 3, NormKind::kVirtualBatch, WeightNorm::kSpectral},
      {Arch::kSgan, 32, 3, NormKind::kBatch, WeightNorm::kWeight},
      {Arch::kSgan, 28, 1, NormKind::kVirtualBatch, WeightNorm::kNone},
      {Arch::kSnganCnn, 32, 3, NormKind::kLayer, WeightNorm::kSpectral},
      {Arch::kSnganCnn, 48, 3, NormKind::kNone, WeightNorm::kNone},
      {Arch::kResnet, 32, 3, NormKind::kBatch, WeightNorm::kSpectral},
      {Arch::kResnet, 48, 3, NormKind::kVirtualBatch, WeightNorm::kWeight},
      {Arch::kMlp, 32, 3, NormKind::kBatch, WeightNorm::kNone},
      {Arch::kMlp, 32, 3, NormKind::kVirtualBatch, WeightNorm::kNone, 1},
      {Arch::kMlp, 32, 3, NormKind::kNone, WeightNorm::kSpectral, 2},
  };
  for (const auto& v : variants) {
    auto c = small(v.arch, v.res, v.channels);
    c.g_norm = v.norm;
    c.g_weight_norm = v.weight_norm;
    c.mlp_banks = v.mlp_banks;
    c.sdeconv_sets = 3;
    c.sdeconv_layers = 2;
    const std::string what = std::string(gantry::enum_name(v.arch)) + " " + std::to_string(v.res) + " " +
                             std::string(gantry::enum_name(v.norm)) + " " +
                             std::string(gantry::enum_name(v.weight_norm)) + " banks " + std::to_string(v.mlp_banks);
    torch::manual_seed(3);
    auto g = build_generator(c);
    for (int i = 0; i < 2; ++i) {  // train-mode forwards: BN running statistics and SN vectors move off their init
      torch::NoGradGuard ng;
      g->forward(torch::randn({6, c.z_dim}));
    }
    g->eval();
    const auto z = torch::randn({9, c.z_dim});
    torch::Tensor want;
    {
      torch::NoGradGuard ng;
      g->set_route_context({4, 100});
      want = g->forward(z);
    }
    auto twin = g->to_torchscript();
    auto loaded = round_trip(twin);
    for (auto* t : {&twin, &loaded}) {
      torch::NoGradGuard ng;
      const auto got = t->forward({z, int64_t{4}, int64_t{100}}).toTensor();
      ASSERT_EQ(got.sizes(), want.sizes()) << what;
      EXPECT_TRUE(torch::equal(got, want)) << what << ": max diff " << (got - want).abs().max().item<double>();
    }
    EXPECT_EQ(twin.attr("z_dim").toInt(), c.z_dim) << what;
  }
}

TEST(ScriptExport, RefusesTrainingMode) {
  auto g = build_generator(small(Arch::kDcgan, 28, 1));
  EXPECT_THROW(g->to_torchscript(), std::logic_error);
}
