// train/ pieces by hand-derived cases: the EMA of G, the adversarial losses
// (one-sided label smoothing), the checkpoint layout, named enums and the
// scoped module guards.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "common/named_enum.h"
#include "reg/historical_averaging.h"
#include "train/checkpoint_layout.h"
#include "train/ema.h"
#include "train/losses.h"
#include "train/module_guards.h"
#include "train/standing_stats.h"
#include "common/rng.h"
#include "models/batch_norm.h"
#include "models/networks.h"

using namespace gantry::train;

TEST(Ema, CopiesBeforeStartThenAveragesParametersAndBuffers) {
  auto model = std::make_shared<torch::nn::Module>();
  auto shadow = std::make_shared<torch::nn::Module>();
  auto p = model->register_parameter("w", torch::tensor({1.0}, torch::kDouble));
  auto b = model->register_buffer("running_mean", torch::tensor({10.0}, torch::kDouble));
  auto n = model->register_buffer("count", torch::tensor({5}, torch::kLong));
  shadow->register_parameter("w", torch::tensor({0.0}, torch::kDouble));
  shadow->register_buffer("running_mean", torch::tensor({0.0}, torch::kDouble));
  shadow->register_buffer("count", torch::tensor({0}, torch::kLong));
  Ema ema(model, shadow, 0.9, 2);
  auto sw = [&] { return shadow->named_parameters()["w"].item<double>(); };
  EXPECT_DOUBLE_EQ(sw(), 1.0);  // starts as a copy
  auto set = [&](double w, double m, int64_t c) {
    torch::NoGradGuard ng;
    p.fill_(w);
    b.fill_(m);
    n.fill_(c);
  };
  set(3, 20, 6);
  ema.update(1);  // before start: copy
  EXPECT_DOUBLE_EQ(sw(), 3.0);
  set(5, 30, 7);
  ema.update(2);  // 0.9·3 + 0.1·5 = 3.2; buffer 0.9·20 + 0.1·30 = 21; integer copied
  EXPECT_NEAR(sw(), 3.2, 1e-12);
  EXPECT_NEAR(shadow->named_buffers()["running_mean"].item<double>(), 21.0, 1e-12);
  EXPECT_EQ(shadow->named_buffers()["count"].item<int64_t>(), 7);
  EXPECT_FALSE(shadow->named_parameters()["w"].requires_grad());
}

TEST(LabelSmoothing, RealTargetIsAlphaFakeTargetZero) {
  const auto r = torch::tensor({0.3, -1.2}, torch::kDouble), f = torch::tensor({0.5, 2.0}, torch::kDouble);
  auto bce = [](double logit, double target) {
    const double p = 1 / (1 + std::exp(-logit));
    return -(target * std::log(p) + (1 - target) * std::log(1 - p));
  };
  const double want = (bce(0.3, 0.9) + bce(-1.2, 0.9)) / 2 + (bce(0.5, 0) + bce(2.0, 0)) / 2;
  EXPECT_NEAR(d_loss(Loss::kBce, r, f, 0.9).item<double>(), want, 1e-12);
}

TEST(Losses, HingeAndWassersteinByHand) {
  const auto r = torch::tensor({0.5, 2.0}, torch::kDouble), f = torch::tensor({-0.5, 0.25}, torch::kDouble);
  // hinge: mean relu(1 − r) + mean relu(1 + f) = (0.5 + 0)/2 + (0.5 + 1.25)/2
  EXPECT_NEAR(d_loss(Loss::kHinge, r, f).item<double>(), 0.25 + 0.875, 1e-12);
  EXPECT_NEAR(g_loss(Loss::kHinge, f).item<double>(), -(-0.5 + 0.25) / 2, 1e-12);
  EXPECT_NEAR(d_loss(Loss::kWasserstein, r, f).item<double>(), (-0.25 / 2) - 1.25, 1e-12);
}

TEST(NamedEnum, CanonicalNamesAliasesAndTheErrorLine) {
  EXPECT_EQ(gantry::parse_enum<Loss>("hinge"), Loss::kHinge);
  EXPECT_EQ(gantry::enum_name(LrSchedule::kLinear), "linear");
  EXPECT_EQ(gantry::enum_choices<Loss>(), "bce, hinge or wasserstein");
  EXPECT_EQ(gantry::parse_enum<Net>("G_ema"), Net::kGEma);
  try {
    gantry::parse_enum<LrSchedule>("cosine");
    ADD_FAILURE() << "cosine accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "must be constant or linear, not 'cosine'");
  }
}

namespace {
// A module with one parameter and one buffer, named as a checkpoint part would hold them.
std::shared_ptr<torch::nn::Module> tiny(double w, double b) {
  auto m = std::make_shared<torch::nn::Module>();
  m->register_parameter("w", torch::tensor({w}, torch::kDouble));
  m->register_buffer("b", torch::tensor({b}, torch::kDouble));
  return m;
}
}  // namespace

TEST(CheckpointLayout, EveryPartAndCounterComesBackAndNullPartsAreSkipped) {
  auto g = tiny(1, 2), d = tiny(3, 4), g_ema = tiny(5, 6);
  auto theta = torch::tensor({7.0}, torch::kDouble);
  gantry::reg::HistoricalAverage ha({theta}, 0.1);
  ha.update();
  CheckpointParts parts;
  parts.g = g.get();
  parts.d = d.get();
  parts.g_ema = g_ema.get();
  parts.ha_g = &ha;
  CheckpointCounters counters;
  counters.step = 11;
  counters.images_seen = 12;
  counters.d_steps = 13;
  counters.sampler_epoch = 14;
  counters.sampler_offset = 15;
  counters.world_size = 16;
  counters.param_hash = -17;
  torch::serialize::OutputArchive out;
  write_checkpoint_parts(out, parts, counters, "[train]\nsteps = 11\n");
  std::ostringstream bytes;
  out.save_to(bytes);

  torch::serialize::InputArchive in;
  std::istringstream src(bytes.str());
  in.load_from(src);
  auto g2 = tiny(0, 0), d2 = tiny(0, 0), e2 = tiny(0, 0);
  auto theta2 = torch::tensor({0.0}, torch::kDouble);
  gantry::reg::HistoricalAverage ha2({theta2}, 0.1);
  CheckpointParts back;
  back.g = g2.get();
  back.d = d2.get();
  back.g_ema = e2.get();
  back.ha_g = &ha2;
  const auto c = read_checkpoint_parts(in, back);
  EXPECT_EQ(read_checkpoint_config(in), "[train]\nsteps = 11\n");
  EXPECT_EQ((std::vector<int64_t>{c.step, c.images_seen, c.d_steps, c.sampler_epoch, c.sampler_offset, c.world_size,
                                  c.param_hash}),
            (std::vector<int64_t>{11, 12, 13, 14, 15, 16, -17}));
  for (auto [a, b] : {std::pair{g, g2}, std::pair{d, d2}, std::pair{g_ema, e2}}) {
    EXPECT_TRUE(torch::equal(a->named_parameters()["w"], b->named_parameters()["w"]));
    EXPECT_TRUE(torch::equal(a->named_buffers()["b"], b->named_buffers()["b"]));
  }
  EXPECT_EQ(ha2.count(), 1);
  EXPECT_TRUE(torch::equal(ha2.state()[0], ha.state()[0]));
  // Parts that were null on save are absent: asking for them fails (no silent zero state).
  auto opt_param = torch::zeros({1}, torch::kDouble).requires_grad_(true);
  torch::optim::Adam adam({opt_param});
  CheckpointParts wants_opt;
  wants_opt.opt_g = &adam;
  EXPECT_THROW(read_checkpoint_parts(in, wants_opt), c10::Error);
  EXPECT_FALSE(describes_state("world_size"));
  EXPECT_FALSE(describes_state("param_hash"));
  EXPECT_TRUE(describes_state("step"));
  EXPECT_TRUE(describes_state("G/w"));
}

// A resume takes the optimizer's moments from the checkpoint but keeps the options it was built with
// (the run's config): the saved β1 0.8 must not win over a resumed run's β1 0.
TEST(CheckpointLayout, OptimizerStateComesBackButTheBuiltOptionsStay) {
  auto w = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_(true);
  torch::optim::Adam saved_adam({w}, torch::optim::AdamOptions(1e-3).betas({0.8, 0.999}).eps(1e-8));
  w.mutable_grad() = torch::tensor({0.5, 0.25}, torch::kDouble);
  saved_adam.step();
  CheckpointParts parts;
  parts.opt_g = &saved_adam;
  torch::serialize::OutputArchive out;
  write_checkpoint_parts(out, parts, CheckpointCounters{}, "");
  std::ostringstream bytes;
  out.save_to(bytes);

  torch::serialize::InputArchive in;
  std::istringstream src(bytes.str());
  in.load_from(src);
  auto w2 = torch::tensor({1.0, -2.0}, torch::kDouble).requires_grad_(true);
  torch::optim::Adam resumed({w2}, torch::optim::AdamOptions(3e-4).betas({0.0, 0.99}).eps(1e-6).weight_decay(0.1));
  CheckpointParts back;
  back.opt_g = &resumed;
  read_checkpoint_parts(in, back);
  const auto& o = static_cast<const torch::optim::AdamOptions&>(resumed.param_groups()[0].options());
  EXPECT_DOUBLE_EQ(o.lr(), 3e-4);
  EXPECT_DOUBLE_EQ(std::get<0>(o.betas()), 0.0);
  EXPECT_DOUBLE_EQ(std::get<1>(o.betas()), 0.99);
  EXPECT_DOUBLE_EQ(o.eps(), 1e-6);
  EXPECT_DOUBLE_EQ(o.weight_decay(), 0.1);
  // The state did come back: after one step of β1 0.8, exp_avg = (1 − 0.8)·g, and the step count is 1.
  const auto& st = static_cast<const torch::optim::AdamParamState&>(*resumed.state().at(w2.unsafeGetTensorImpl()));
  EXPECT_EQ(st.step(), 1);
  EXPECT_TRUE(torch::allclose(st.exp_avg(), torch::tensor({0.1, 0.05}, torch::kDouble)));
}

TEST(ModuleGuards, StatesComeBackOnEveryPathOut) {
  auto m = tiny(1, 2);
  m->train();
  try {
    const FrozenParameters frozen(m->parameters());
    const EvalMode eval(*m);
    EXPECT_FALSE(m->named_parameters()["w"].requires_grad());
    EXPECT_FALSE(m->is_training());
    throw std::runtime_error("a phase failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(m->named_parameters()["w"].requires_grad());
  EXPECT_TRUE(m->is_training());
  m->eval();
  { const EvalMode eval(*m); }
  EXPECT_FALSE(m->is_training()) << "a module in eval mode stays there";
}

// Standing statistics (train/standing_stats.h) by hand: the running statistics while alive
// are the mean over the passes of each pass's batch statistics, computed here independently
// from the same noise with plain tensor ops; everything comes back afterwards.
TEST(StandingStatistics, AveragesBatchStatisticsOverPassesAndRestores) {
  namespace models = gantry::models;
  models::ModelConfig c;
  c.arch = models::Arch::kMlp;
  c.z_dim = 2;
  c.data_dim = 2;
  c.g_width = 8;
  c.mlp_depth = 2;  // z → [linear 8, BN, ReLU] → linear 2
  c.g_norm = models::NormKind::kBatch;
  c.bn_momentum = 0.05;
  auto g = models::build_generator(c);
  models::BatchNormImpl* bn = nullptr;
  models::WeightLayerImpl* first = nullptr;
  for (const auto& m : g->modules(false)) {
    if (auto* b = dynamic_cast<models::BatchNormImpl*>(m.get())) bn = b;
    if (auto* l = dynamic_cast<models::WeightLayerImpl*>(m.get()); l && !first) first = l;
  }
  ASSERT_NE(bn, nullptr);
  ASSERT_NE(first, nullptr);
  auto buffers = bn->buffers();
  ASSERT_EQ(buffers.size(), 2u);  // running mean, running variance
  torch::NoGradGuard ng;
  buffers[0].fill_(3.0);
  buffers[1].fill_(7.0);
  g->eval();
  const int64_t batches = 3, rows = 50;
  {
    StandingStatistics standing(*g, batches, rows, /*seed=*/11, torch::kCPU, /*comm=*/nullptr);
    EXPECT_FALSE(g->is_training());  // the mode comes back at once: only the statistics stay
    // Independently: the first layer's outputs for each pass's noise, their mean and unbiased
    // variance, averaged over the passes.
    torch::Tensor mean_sum = torch::zeros({8}), var_sum = torch::zeros({8});
    for (int64_t k = 0; k < batches; ++k) {
      const auto gen = at::make_generator<at::CPUGeneratorImpl>(gantry::key(11, 0x5354414E44494E47ull, k));
      const auto h = first->forward(torch::randn({rows, 2}, gen));
      mean_sum += h.mean(0);
      var_sum += h.var(0, /*unbiased=*/true);
    }
    EXPECT_TRUE(torch::allclose(buffers[0], mean_sum / batches, 1e-5, 1e-6)) << buffers[0] << mean_sum / batches;
    EXPECT_TRUE(torch::allclose(buffers[1], var_sum / batches, 1e-5, 1e-6)) << buffers[1] << var_sum / batches;
  }
  EXPECT_TRUE(torch::all(buffers[0] == 3.0).item<bool>());
  EXPECT_TRUE(torch::all(buffers[1] == 7.0).item<bool>());
  EXPECT_DOUBLE_EQ(bn->options().momentum, 0.05);
  EXPECT_FALSE(g->is_training());
  EXPECT_THROW(StandingStatistics(*g, 1, 1, 0, torch::kCPU, nullptr), std::invalid_argument);
}
