// Regularizers against independent computations: the formulas of
// docs/TECHNIQUES.md written directly in Python torch (reference.py, per
// sample with one autograd call each), and hand-derived small cases.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/weight_layer.h"
#include "models/python_reference.h"
#include "reg/consistency.h"
#include "reg/direal.h"
#include "reg/feature_matching.h"
#include "reg/gradient_normalization.h"
#include "reg/gradient_penalties.h"
#include "reg/historical_averaging.h"
#include "reg/split_loss.h"

using namespace gantry::reg;
using gantry::test::close;
using gantry::test::python_reference;
using gantry::test::Tensors;

TEST(Direal, ValueAndGradientMatchTheFormula) {
  torch::manual_seed(10);
  // Filters with some near-parallel and near-antiparallel pairs, so that the mask is mixed.
  auto w = torch::randn({6, 12}, torch::kDouble);
  w[1] = w[0] * 2 + 0.3 * torch::randn({12}, torch::kDouble);
  w[4] = -w[2] + 0.4 * torch::randn({12}, torch::kDouble);
  w = w.requires_grad_(true);
  const auto j = direal_layer_penalty(w, 0.5);
  j.backward();
  auto ref = python_reference("direal", {{"w", w}, {"tau", torch::tensor(0.5)}});
  EXPECT_TRUE(close(j, ref["value"], "R"));
  EXPECT_TRUE(close(w.grad(), ref["grad_w"], "grad_w"));
  EXPECT_GT(j.item<double>(), 0);
}

TEST(Direal, MaskIsStrictAtTau) {
  // Filters (1, 0) and (3, 4): cosine exactly 3/5 in double.
  const auto w = torch::tensor({1.0, 0.0, 3.0, 4.0}, torch::kDouble).view({2, 2});
  EXPECT_EQ(direal_layer_penalty(w, 0.6).item<double>(), 0.0);                 // |A| = τ: not penalised
  EXPECT_NEAR(direal_layer_penalty(w, 0.59).item<double>(), 2 * 0.36, 1e-15);  // both ordered pairs
  // Anti-parallel filters are penalised like parallel ones.
  const auto anti = torch::tensor({1.0, 0.0, -3.0, -4.0}, torch::kDouble).view({2, 2});
  EXPECT_NEAR(direal_layer_penalty(anti, 0.59).item<double>(), 2 * 0.36, 1e-15);
  // A zero filter gives no NaN and no penalty.
  const auto zero = torch::tensor({0.0, 0.0, 3.0, 4.0}, torch::kDouble).view({2, 2}).requires_grad_(true);
  const auto j = direal_layer_penalty(zero, 0.1);
  j.backward();
  EXPECT_EQ(j.item<double>(), 0.0);
  EXPECT_FALSE(zero.grad().isnan().any().item<bool>());
}

TEST(Direal, SumsOverTheListedLayersWithLambda) {
  gantry::models::WeightLayer a(gantry::models::WeightLayerOptions::conv(4, 6, 3));
  gantry::models::WeightLayer b(gantry::models::WeightLayerOptions::deconv(4, 6, 3));
  Direal r({a, b}, {0.1, 0.25});
  const double expect = direal_layer_penalty(a->filter_matrix(), 0.1).item<double>() +
                        direal_layer_penalty(b->filter_matrix(), 0.1).item<double>();
  EXPECT_NEAR(r.value().item<double>(), expect, 1e-6);
  EXPECT_EQ(r.lambda(), 0.25);
  EXPECT_THROW(Direal({a}, {1.0, 0.1}), std::invalid_argument);
}

namespace {
// The test's D (same as reference.py's critic).
struct TinyCritic {
  torch::Tensor W1, b1, w2;
  torch::Tensor operator()(const torch::Tensor& x) const {
    return torch::leaky_relu(torch::matmul(x.reshape({x.size(0), -1}), W1.t()) + b1, 0.2).matmul(w2);
  }
};
TinyCritic make_critic(int64_t d) {
  return {(torch::randn({7, d}, torch::kDouble) * 0.5).requires_grad_(true),
          torch::randn({7}, torch::kDouble).requires_grad_(true),
          torch::randn({7}, torch::kDouble).requires_grad_(true)};
}
}  // namespace

class GradNormKinds : public ::testing::TestWithParam<GradNorm> {};

TEST_P(GradNormKinds, PerSampleValuesAndDoubleBackwardToDAndG) {
  torch::manual_seed(11);
  const auto kind = GetParam();
  const std::vector<int64_t> shape = {5, 2, 3, 3};
  auto d = make_critic(18);
  const auto z = torch::randn({5, 4}, torch::kDouble);
  const auto A = torch::randn({18, 4}, torch::kDouble).requires_grad_(true);  // "G": x = A z
  const auto x = torch::matmul(z, A.t()).view(shape);
  const auto fhat = normalize_output(kind, d(x), x);
  const auto coef = torch::randn({5}, torch::kDouble);
  (fhat * coef).sum().backward();
  auto ref = python_reference(kind == GradNorm::kGN ? "gn" : "pgn", {{"W1", d.W1},
                                                                     {"b1", d.b1},
                                                                     {"w2", d.w2},
                                                                     {"A", A},
                                                                     {"z", z},
                                                                     {"x_shape", torch::tensor(shape)},
                                                                     {"coef", coef}});
  EXPECT_TRUE(close(fhat, ref["fhat"], "fhat"));
  EXPECT_TRUE(close(d.W1.grad(), ref["grad_W1"], "grad_W1"));
  EXPECT_TRUE(close(d.b1.grad(), ref["grad_b1"], "grad_b1"));
  EXPECT_TRUE(close(d.w2.grad(), ref["grad_w2"], "grad_w2"));
  EXPECT_TRUE(close(A.grad(), ref["grad_A"], "grad_A (through G: double backprop)"));
  if (kind == GradNorm::kGN) {
    EXPECT_LE(fhat.abs().max().item<double>(), 1.0);
  }  // |f̂| ≤ 1 by construction
}
INSTANTIATE_TEST_SUITE_P(Kinds, GradNormKinds, ::testing::Values(GradNorm::kGN, GradNorm::kPGN));

TEST(GradNorm, RejectsAnInputOutsideTheGraph) {
  auto d = make_critic(4);
  const auto x = torch::randn({3, 4}, torch::kDouble);
  EXPECT_THROW(normalize_output(GradNorm::kGN, d(x), x), std::invalid_argument);
  EXPECT_THROW(gantry::parse_enum<GradNorm>("batch"), std::invalid_argument);
}

TEST(GradientPenalties, WganGpAndLazyR1MatchPerSampleFormulas) {
  torch::manual_seed(12);
  auto d = make_critic(12);
  const auto real = torch::randn({4, 3, 2, 2}, torch::kDouble), fake = torch::randn({4, 3, 2, 2}, torch::kDouble);
  const auto eps = torch::rand({4}, torch::kDouble);
  R1Options r1o;
  r1o.gamma = 3;
  r1o.interval = 4;
  auto ref = python_reference("penalties", {{"W1", d.W1},
                                            {"b1", d.b1},
                                            {"w2", d.w2},
                                            {"real", real},
                                            {"fake", fake},
                                            {"eps", eps},
                                            {"gamma", torch::tensor(3.0)},
                                            {"interval", torch::tensor(4)}});
  const Critic critic = [&](const torch::Tensor& x) { return d(x); };
  for (const std::string name : {"gp", "r1"}) {
    for (auto* p : {&d.W1, &d.b1, &d.w2}) p->mutable_grad() = torch::Tensor();
    const auto v = name == "gp" ? wgan_gp(critic, real, fake, eps) : r1_penalty(critic, real, r1o);
    v.backward();
    EXPECT_TRUE(close(v, ref[name], name));
    EXPECT_TRUE(close(d.W1.grad(), ref[name + "_grad_W1"], name + " grad_W1"));
    EXPECT_TRUE(close(d.b1.grad(), ref[name + "_grad_b1"], name + " grad_b1"));
    EXPECT_TRUE(close(d.w2.grad(), ref[name + "_grad_w2"], name + " grad_w2"));
  }
  EXPECT_TRUE(r1_due(r1o, 8));
  EXPECT_FALSE(r1_due(r1o, 9));
}

// R1 on a D that judges packs of m samples (PacGAN): the mean over packs of the squared norm of each pack's
// input gradient, computed here on the pack-shaped input directly (another graph than r1_penalty's). A mean
// over the packs' rows instead would be m times smaller.
TEST(GradientPenalties, R1OnPacksIsTheMeanOverPacksOfThePackGradientNorm) {
  torch::manual_seed(13);
  const int64_t m = 3, packs = 4, dim = 2;
  auto d = make_critic(m * dim);
  const auto real = torch::randn({packs * m, dim}, torch::kDouble);
  // Pack i = rows i·m … i·m + m − 1 (which rows form a pack does not change the penalty).
  const Critic packed = [&](const torch::Tensor& x) { return d(x.reshape({x.size(0) / m, m * dim})); };
  R1Options o;
  o.gamma = 2.5;
  o.interval = 2;
  const auto v = r1_penalty(packed, real, o);
  v.backward();
  const auto w1_grad = d.W1.grad().clone();
  d.W1.mutable_grad() = torch::Tensor();

  const auto xp = real.reshape({packs, m * dim}).clone().requires_grad_(true);
  const auto g = torch::autograd::grad({d(xp).sum()}, {xp}, {}, true, true)[0];
  const auto want = (2.5 / 2) * g.square().sum(1).mean() * 2;
  want.backward();
  EXPECT_NEAR(v.item<double>(), want.item<double>(), 1e-12 * std::max(1.0, want.item<double>()));
  EXPECT_TRUE(close(w1_grad, d.W1.grad(), "R1 on packs: grad W1"));
}

TEST(Consistency, AugmentFlipsAndShiftsWithZeroFill) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto x = torch::arange(1, 1 + 2 * 1 * 10 * 10, torch::kDouble).view({2, 1, 10, 10});
  for (int rep = 0; rep < 20; ++rep) {
    const auto t = cr_augment(x, 0.2, gen);
    for (int64_t i = 0; i < 2; ++i) {
      // Some (flip, dy, dx) with |d| ≤ 2 must reproduce the output exactly.
      bool found = false;
      for (int flip = 0; flip < 2 && !found; ++flip)
        for (int64_t dy = -2; dy <= 2 && !found; ++dy)
          for (int64_t dx = -2; dx <= 2 && !found; ++dx) {
            auto src = flip ? x[i].flip({2}) : x[i];
            auto want = torch::zeros_like(src);
            for (int64_t yy = 0; yy < 10; ++yy)
              for (int64_t xx = 0; xx < 10; ++xx) {
                const int64_t sy = yy - dy, sx = xx - dx;
                if (sy >= 0 && sy < 10 && sx >= 0 && sx < 10) want[0][yy][xx] = src[0][sy][sx];
              }
            found = torch::equal(t[i], want);
          }
      ASSERT_TRUE(found) << "sample " << i << " is not a flip + zero-filled shift of at most 2 px";
    }
  }
  const auto a = torch::tensor({1.0, 2.0}), b = torch::tensor({0.0, 4.0});
  EXPECT_DOUBLE_EQ(consistency_term(a, b, 5.0).item<double>(), 5.0 * (1 + 4) / 2);
}

TEST(FeatureMatching, MatchesTheFormulaAndDetachesTheRealSide) {
  torch::manual_seed(13);
  const auto real = torch::randn({6, 5}, torch::kDouble).requires_grad_(true);
  const auto fake = torch::randn({4, 5}, torch::kDouble).requires_grad_(true);
  auto ref = python_reference("feature_matching", {{"real", real}, {"fake", fake}});
  const auto l2 = feature_matching_loss(real, fake);
  l2.backward();
  EXPECT_TRUE(close(l2, ref["l2"], "squared L2"));
  EXPECT_TRUE(close(fake.grad(), ref["grad_l2"], "grad squared L2"));
  EXPECT_FALSE(real.grad().defined()) << "the real mean must be detached";
  fake.mutable_grad() = torch::Tensor();
  const auto l1 = feature_matching_loss(real, fake, FeatureMatchingDistance::kMeanAbs);
  l1.backward();
  EXPECT_TRUE(close(l1, ref["l1"], "mean abs"));
  EXPECT_TRUE(close(fake.grad(), ref["grad_l1"], "grad mean abs"));
}

TEST(HistoricalAveraging, RunningMeanAndPenaltyByHand) {
  auto theta = torch::tensor({2.0, -1.0}, torch::kDouble).requires_grad_(true);
  HistoricalAverage ha({theta}, 0.5);
  ha.update();  // θ̄_1 = θ_1 = (2, −1)
  EXPECT_DOUBLE_EQ(ha.penalty().item<double>(), 0.0);
  {
    torch::NoGradGuard ng;
    theta.copy_(torch::tensor({4.0, 3.0}, torch::kDouble));
  }
  ha.update();  // θ̄_2 = (2,−1) + ((4,3) − (2,−1))/2 = (3, 1)
  // λ ‖θ − θ̄‖² = 0.5 · ((4−3)² + (3−1)²) = 2.5; gradient 2λ(θ − θ̄) = (1, 2)
  const auto p = ha.penalty();
  EXPECT_DOUBLE_EQ(p.item<double>(), 2.5);
  p.backward();
  EXPECT_TRUE(torch::equal(theta.grad(), torch::tensor({1.0, 2.0}, torch::kDouble)));
  {
    torch::NoGradGuard ng;
    theta.copy_(torch::tensor({0.0, 0.0}, torch::kDouble));
  }
  ha.update();  // θ̄_3 = (3,1) + ((0,0) − (3,1))/3 = (2, 2/3): the mean of the three θ
  const auto s = ha.state();
  EXPECT_TRUE(torch::allclose(s[0], torch::tensor({2.0, 2.0 / 3}, torch::kDouble)));
  EXPECT_EQ(s[1].item<int64_t>(), 3);
  HistoricalAverage restored({theta}, 0.5);
  restored.load_state(s);
  EXPECT_DOUBLE_EQ(restored.penalty().item<double>(), ha.penalty().item<double>());
}

TEST(SplitLoss, MatchesTheSeedFormulaWithTheSignDecision) {
  torch::manual_seed(14);
  std::vector<torch::Tensor> maps = {(torch::randn({4, 2, 4, 4}, torch::kDouble) * 30).requires_grad_(true),
                                     (torch::randn({4, 1, 8, 8}, torch::kDouble) * 30).requires_grad_(true)};
  const auto w = split_loss_weights(2);
  ASSERT_EQ(w, (std::vector<double>{0.03125, 0.0625}));
  const auto loss = split_loss(maps, w);
  loss.backward();
  auto ref = python_reference(
      "split_loss",
      {{"m0", maps[0]}, {"m1", maps[1]}, {"n", torch::tensor(2)}, {"weights", torch::tensor(w, torch::kDouble)}});
  EXPECT_TRUE(close(loss, ref["loss"], "loss"));
  EXPECT_TRUE(close(maps[0].grad(), ref["grad_m0"], "grad m0"));
  EXPECT_TRUE(close(maps[1].grad(), ref["grad_m1"], "grad m1"));
  // The decision: pushing two maps apart lowers the loss.
  auto same = std::vector<torch::Tensor>{torch::zeros({2, 1, 2, 2}, torch::kDouble) + 1};
  auto apart = std::vector<torch::Tensor>{
      torch::stack({torch::zeros({1, 2, 2}), torch::full({1, 2, 2}, 40.0)}).to(torch::kDouble)};
  EXPECT_LT(split_loss(apart, {1.0}).item<double>(), split_loss(same, {1.0}).item<double>());
}

// The pair sum runs in blocks of rows and computes its gradient block by block in forward: every block
// size, including uneven last blocks and one row per block, gives the reference loss and gradients.
TEST(SplitLoss, BlocksOfRowsGiveTheSameLossAndGradients) {
  torch::manual_seed(15);
  const auto m0 = torch::randn({7, 2, 3, 3}, torch::kDouble) * 30;
  const auto m1 = torch::randn({7, 5}, torch::kDouble) * 30;
  const auto w = split_loss_weights(2);
  auto ref = python_reference(
      "split_loss", {{"m0", m0}, {"m1", m1}, {"n", torch::tensor(2)}, {"weights", torch::tensor(w, torch::kDouble)}});
  // block_elements / (B · D): 1 row, 2 rows (blocks 2+2+2), 4 rows (4+2), all 6 rows in one block.
  for (const int64_t elements : {int64_t{1}, int64_t{7 * 18 * 2}, int64_t{7 * 18 * 4}, int64_t{1} << 22}) {
    SCOPED_TRACE("block_elements " + std::to_string(elements));
    std::vector<torch::Tensor> maps = {m0.clone().requires_grad_(true), m1.clone().requires_grad_(true)};
    SplitLossOptions opt;
    opt.block_elements = elements;
    const auto loss = split_loss(maps, w, opt);
    loss.backward();
    EXPECT_TRUE(close(loss, ref["loss"], "loss"));
    EXPECT_TRUE(close(maps[0].grad(), ref["grad_m0"], "grad m0"));
    EXPECT_TRUE(close(maps[1].grad(), ref["grad_m1"], "grad m1"));
  }
}

// The fused node's backward against central differences of its own forward, with an upstream
// gradient other than 1 (the trainer scales the term by λ) and near-equal rows, where F is small
// and 1/(F + ε) large.
TEST(SplitLoss, PairSumGradientMatchesFiniteDifferences) {
  torch::manual_seed(16);
  auto m = torch::randn({5, 4}, torch::kDouble) * 30;
  m[3] = m[1] + 0.5;  // rows 1 and 3 nearly equal
  const auto x = m.clone().requires_grad_(true);
  (pair_log_sum(x) * 0.37).backward();
  const double h = 1e-6;
  auto fd = torch::zeros_like(m);
  for (int64_t i = 0; i < m.size(0); ++i)
    for (int64_t j = 0; j < m.size(1); ++j) {
      auto p = m.clone(), q = m.clone();
      p[i][j] += h;
      q[i][j] -= h;
      fd[i][j] = 0.37 * (pair_log_sum(p) - pair_log_sum(q)) / (2 * h);
    }
  EXPECT_TRUE(torch::allclose(x.grad(), fd, 1e-5, 1e-7)) << x.grad() << "\n" << fd;
}

// What the node cannot do is refused, not answered wrongly: a second derivative (its saved gradient has no
// graph) and ε ≤ 0 (the masked pairs would be log 0 · 0 = NaN).
TEST(SplitLoss, SecondDerivativesAndNonPositiveEpsAreRefused) {
  const auto m = (torch::randn({4, 3}, torch::kDouble) * 30).requires_grad_(true);
  const auto first = torch::autograd::grad({pair_log_sum(m)}, {m}, {}, /*retain_graph=*/true, /*create_graph=*/false);
  EXPECT_EQ(first[0].sizes(), m.sizes());
  EXPECT_THROW(torch::autograd::grad({pair_log_sum(m)}, {m}, {}, true, /*create_graph=*/true), std::exception);
  SplitLossOptions zero;
  zero.eps = 0;
  EXPECT_THROW(pair_log_sum(m, zero), std::invalid_argument);
}

// Fewer than 2 samples have no pairs: one clear error, for an empty batch too (not LibTorch's reshape error).
TEST(SplitLoss, FewerThanTwoSamplesAreRefusedWithOneLine) {
  for (const int64_t b : {0, 1}) {
    const auto map = torch::randn({b, 3, 2, 2});
    try {
      split_loss({map}, {1.0});
      ADD_FAILURE() << "batch " << b << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("at least 2 samples"), std::string::npos) << e.what();
    }
    EXPECT_THROW(pair_log_sum(map.reshape({b, 12})), std::invalid_argument);
  }
}
