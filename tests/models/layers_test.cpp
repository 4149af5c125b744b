// Layers against independent computations: torch's own spectral_norm,
// weight_norm and BatchNorm2d, and the VBN and minibatch-discrimination
// formulas written directly in Python (reference.py); stochastic deconvolution
// against per-sample application of the chosen filter set.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "models/batch_norm.h"
#include "models/minibatch_discrimination.h"
#include "models/stochastic_deconv.h"
#include "models/virtual_batch_norm.h"
#include "models/weight_layer.h"
#include "python_reference.h"

using namespace gantry::models;
using gantry::test::close;
using gantry::test::python_reference;

namespace {

torch::Tensor param(torch::nn::Module& m, const std::string& name) { return m.named_parameters()[name]; }
torch::Tensor buffer(torch::nn::Module& m, const std::string& name) { return m.named_buffers()[name]; }

// Sum of y * coef: a loss whose gradient is a generic (non-uniform) vector.
torch::Tensor weighted(const torch::Tensor& y, const torch::Tensor& coef) { return (y * coef).sum(); }

}  // namespace

class SpectralNormKinds : public ::testing::TestWithParam<int> {};

TEST_P(SpectralNormKinds, MatchesTorchSpectralNormOverTwoForwardsAndInEval) {
  torch::manual_seed(1);
  const int kind = GetParam();  // 0 conv, 1 deconv, 2 linear
  const auto o = WeightLayerOptions(kind == 0   ? LayerKind::kConv
                                    : kind == 1 ? LayerKind::kDeconv
                                                : LayerKind::kLinear,
                                    3, 5, kind == 2 ? 1 : (kind == 1 ? 4 : 3))
                     .stride(kind == 1 ? 2 : 1)
                     .padding(kind == 2 ? 0 : 1)
                     .bias(false)
                     .norm(WeightNorm::kSpectral);
  WeightLayer layer(o);
  layer->to(torch::kDouble);
  const auto x = kind == 2 ? torch::randn({4, 3}, torch::kDouble) : torch::randn({2, 3, 6, 6}, torch::kDouble);
  const auto w0 = param(*layer, "weight").detach().clone();
  const auto u0 = buffer(*layer, "sn_u").clone(), v0 = buffer(*layer, "sn_v").clone();
  const auto y_shape = layer->forward(x).sizes().vec();
  // The forward above advanced u, v: restore them, then compare from the same start.
  buffer(*layer, "sn_u").copy_(u0);
  buffer(*layer, "sn_v").copy_(v0);
  const auto coef = torch::randn(y_shape, torch::kDouble);
  auto ref = python_reference(
      "spectral_norm", {{"kind", torch::tensor(kind)}, {"w", w0}, {"u", u0}, {"v", v0}, {"x", x}, {"coef", coef}});
  for (int step = 0; step < 2; ++step) {
    const auto xs = x.clone().requires_grad_(true);
    layer->zero_grad();
    const auto y = layer->forward(xs);
    weighted(y, coef).backward();
    const auto s = std::to_string(step);
    EXPECT_TRUE(close(y, ref["y" + s], "y" + s));
    EXPECT_TRUE(close(xs.grad(), ref["grad_x" + s], "grad_x" + s));
    EXPECT_TRUE(close(param(*layer, "weight").grad(), ref["grad_w" + s], "grad_w" + s));
    EXPECT_TRUE(close(buffer(*layer, "sn_u"), ref["u" + s], "u" + s));
    EXPECT_TRUE(close(buffer(*layer, "sn_v"), ref["v" + s], "v" + s));
  }
  layer->eval();
  const auto u_before = buffer(*layer, "sn_u").clone();
  EXPECT_TRUE(close(layer->forward(x), ref["y_eval"], "y_eval"));
  EXPECT_TRUE(torch::equal(buffer(*layer, "sn_u"), u_before)) << "eval must not advance the power iteration";
}
INSTANTIATE_TEST_SUITE_P(Kinds, SpectralNormKinds, ::testing::Values(0, 1, 2));

TEST(WeightNorm, MatchesTorchWeightNormPerOutputFilter) {
  torch::manual_seed(2);
  for (int kind : {0, 1}) {
    const auto o = WeightLayerOptions(kind == 0 ? LayerKind::kConv : LayerKind::kDeconv, 3, 4, kind == 0 ? 3 : 4)
                       .stride(kind == 0 ? 1 : 2)
                       .padding(1)
                       .bias(false)
                       .norm(WeightNorm::kWeight);
    WeightLayer layer(o);
    layer->to(torch::kDouble);
    const auto g_scale = torch::rand({4}, torch::kDouble) + 0.5;
    {
      torch::NoGradGuard ng;
      // g = ‖v‖ · scale in double (the layer initialised g in float before .to(kDouble)).
      param(*layer, "gain").copy_(layer->filter_matrix().norm(2, 1) * g_scale);
    }
    const auto x = torch::randn({2, 3, 5, 5}, torch::kDouble).requires_grad_(true);
    const auto y = layer->forward(x);
    const auto coef = torch::randn(y.sizes(), torch::kDouble);
    auto ref = python_reference("weight_norm", {{"kind", torch::tensor(kind)},
                                                {"w", param(*layer, "weight")},
                                                {"g_scale", g_scale},
                                                {"x", x},
                                                {"coef", coef}});
    weighted(y, coef).backward();
    const std::string k = kind == 0 ? "conv " : "deconv ";
    EXPECT_TRUE(close(y, ref["y"], k + "y"));
    EXPECT_TRUE(close(x.grad(), ref["grad_x"], k + "grad_x"));
    EXPECT_TRUE(close(param(*layer, "weight").grad(), ref["grad_v"], k + "grad_v"));
    EXPECT_TRUE(close(param(*layer, "gain").grad(), ref["grad_g"], k + "grad_g"));
  }
}

TEST(FilterMatrix, TransposedConvFiltersAreOutputFilters) {
  WeightLayer layer(WeightLayerOptions::deconv(3, 5, 2));
  const auto w = param(*layer, "weight");  // (in 3, out 5, 2, 2)
  const auto m = layer->filter_matrix();
  ASSERT_EQ(m.sizes(), (torch::IntArrayRef{5, 12}));
  for (int j = 0; j < 5; ++j) EXPECT_TRUE(torch::equal(m[j], w.select(1, j).reshape({-1}))) << "output filter " << j;
}

TEST(BatchNorm, PerRankMatchesTorchBatchNorm2d) {
  torch::manual_seed(3);
  BatchNormOptions o;
  o.channels = 3;
  BatchNorm bn(o);
  bn->to(torch::kDouble);
  const auto gamma = torch::rand({3}, torch::kDouble) + 0.5, beta = torch::randn({3}, torch::kDouble);
  {
    torch::NoGradGuard ng;
    param(*bn, "weight").copy_(gamma);
    param(*bn, "bias").copy_(beta);
  }
  const auto x = (torch::randn({4, 3, 5, 5}, torch::kDouble) * 2 + 1).requires_grad_(true);
  const auto coef = torch::randn({4, 3, 5, 5}, torch::kDouble);
  auto ref = python_reference("batch_norm", {{"x", x}, {"gamma", gamma}, {"beta", beta}, {"coef", coef}});
  const auto y = bn->forward(x);
  weighted(y, coef).backward();
  EXPECT_TRUE(close(y, ref["y"], "y"));
  EXPECT_TRUE(close(x.grad(), ref["grad_x"], "grad_x"));
  EXPECT_TRUE(close(param(*bn, "weight").grad(), ref["grad_gamma"], "grad_gamma"));
  EXPECT_TRUE(close(param(*bn, "bias").grad(), ref["grad_beta"], "grad_beta"));
  EXPECT_TRUE(close(buffer(*bn, "running_mean"), ref["running_mean"], "running_mean"));
  EXPECT_TRUE(close(buffer(*bn, "running_var"), ref["running_var"], "running_var"));
}

TEST(VirtualBatchNorm, MatchesTheFormulaPerExample) {
  torch::manual_seed(4);
  VirtualBatchNorm vbn(3);
  vbn->to(torch::kDouble);
  const auto gamma = torch::rand({3}, torch::kDouble) + 0.5, beta = torch::randn({3}, torch::kDouble);
  {
    torch::NoGradGuard ng;
    param(*vbn, "weight").copy_(gamma);
    param(*vbn, "bias").copy_(beta);
  }
  const int64_t n_ref = 4;
  const auto x = (torch::randn({n_ref + 3, 3, 4, 4}, torch::kDouble) * 1.5 + 0.3).requires_grad_(true);
  const auto coef = torch::randn(x.sizes(), torch::kDouble);
  auto ref = python_reference(
      "vbn", {{"x", x}, {"gamma", gamma}, {"beta", beta}, {"n_ref", torch::tensor(n_ref)}, {"coef", coef}});
  const auto y = vbn->forward(x, n_ref);
  weighted(y, coef).backward();
  EXPECT_TRUE(close(y, ref["y"], "y"));
  EXPECT_TRUE(close(x.grad(), ref["grad_x"], "grad_x"));
  EXPECT_TRUE(close(param(*vbn, "weight").grad(), ref["grad_gamma"], "grad_gamma"));
  EXPECT_TRUE(close(param(*vbn, "bias").grad(), ref["grad_beta"], "grad_beta"));
  // A live sample's output depends on itself and the reference, not on the other live samples.
  const auto x2 = x.detach().clone();
  x2[n_ref + 1].mul_(-3);
  const auto y2 = vbn->forward(x2, n_ref);
  EXPECT_TRUE(torch::allclose(y2[n_ref], y[n_ref]));
  EXPECT_TRUE(torch::allclose(y2[n_ref + 2], y[n_ref + 2]));
}

TEST(MinibatchDiscrimination, MatchesTheFormulaWithSelfExcluded) {
  torch::manual_seed(5);
  MinibatchDiscriminationOptions o;
  o.in_features = 4;
  o.kernels = 3;
  o.kernel_dim = 2;
  MinibatchDiscrimination mbd(o);
  mbd->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    param(*mbd, "T").mul_(5);  // distances of order 1: c is neither 0 nor 1
  }
  const auto h = torch::randn({5, 4}, torch::kDouble).requires_grad_(true);
  const auto coef = torch::randn({5, 7}, torch::kDouble);
  auto ref = python_reference("mbd", {{"h", h},
                                      {"T", param(*mbd, "T")},
                                      {"kernels", torch::tensor(3)},
                                      {"kernel_dim", torch::tensor(2)},
                                      {"coef", coef}});
  const auto y = mbd->forward(h);
  weighted(y, coef).backward();
  EXPECT_TRUE(close(y, ref["y"], "y"));
  EXPECT_TRUE(close(h.grad(), ref["grad_h"], "grad_h"));
  EXPECT_TRUE(close(param(*mbd, "T").grad(), ref["grad_T"], "grad_T"));
  // One sample alone has nobody to compare with: o = 0.
  EXPECT_TRUE(
      torch::equal(mbd->forward(h.detach().narrow(0, 0, 1)).narrow(1, 4, 3), torch::zeros({1, 3}, torch::kDouble)));
}

namespace {

// A bank against each sample sent alone through its own filter set (a second bank with the same parameters):
// outputs, the input's gradient and every parameter's gradient for a loss with generic coefficients. A set no
// sample uses must get no gradient at all (Adam then leaves it alone).
void expect_bank_equals_per_sample_sets(const StochasticDeconvOptions& o, const torch::Tensor& x0, int64_t step) {
  StochasticDeconv bank(o), alone(o);
  bank->to(torch::kDouble);
  alone->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    auto theirs = alone->named_parameters();
    for (const auto& p : bank->named_parameters()) theirs[p.key()].copy_(p.value());
  }
  const auto routes = draw_routes(7, step, 0, 100, x0.size(0), o.filter_sets);
  const auto x = x0.clone().requires_grad_(true);
  const auto y = bank->forward(x, routes);
  const auto coef = torch::randn_like(y);
  weighted(y, coef).backward();

  auto sets = alone->named_children();
  const auto xa = x0.clone().requires_grad_(true);
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < x0.size(0); ++i) {
    const auto r = std::to_string(routes[i].item<int64_t>());
    auto layer = std::dynamic_pointer_cast<WeightLayerImpl>(sets["set" + r]);
    auto act = std::dynamic_pointer_cast<torch::nn::PReLUImpl>(sets["act" + r]);
    rows.push_back(act->forward(layer->forward(xa.narrow(0, i, 1))));
  }
  const auto ya = torch::cat(rows);
  weighted(ya, coef).backward();
  EXPECT_TRUE(close(y, ya, "y"));
  EXPECT_TRUE(close(x.grad(), xa.grad(), "grad x"));
  auto theirs = alone->named_parameters();
  int64_t without = 0;
  for (const auto& p : bank->named_parameters()) {
    const auto& mine = p.value().grad();
    const auto& ref = theirs[p.key()].grad();
    ASSERT_EQ(mine.defined(), ref.defined()) << p.key();
    if (mine.defined())
      EXPECT_TRUE(close(mine, ref, p.key()));
    else
      ++without;
  }
  const auto used = std::get<0>(at::_unique(routes)).numel();
  EXPECT_EQ(without, (o.filter_sets - used) * 4) << "weight, gain, bias and slopes of each unused set";
}

StochasticDeconvOptions linear_bank(int64_t in, int64_t out, int64_t sets) {
  StochasticDeconvOptions o;
  o.kind = LayerKind::kLinear;
  o.in = in;
  o.out = out;
  o.filter_sets = sets;
  return o;
}

}  // namespace

TEST(StochasticDeconv, EachSampleGoesThroughItsOwnFilterSet) {
  torch::manual_seed(6);
  StochasticDeconvOptions o;
  o.in = 4;
  o.out = 3;
  o.filter_sets = 4;
  expect_bank_equals_per_sample_sets(o, torch::randn({9, 4, 4, 4}, torch::kDouble), 3);
  // Routes: a pure function of (seed, step, layer, global index), all sets used, sample-wise shardable.
  EXPECT_TRUE(torch::equal(draw_routes(7, 3, 0, 100, 9, 4).narrow(0, 4, 5), draw_routes(7, 3, 0, 104, 5, 4)));
  EXPECT_FALSE(torch::equal(draw_routes(7, 3, 0, 0, 64, 4), draw_routes(7, 4, 0, 0, 64, 4)));
  EXPECT_EQ(std::get<0>(at::_unique(draw_routes(1, 0, 0, 0, 256, 8))).numel(), 8);
}

// Linear banks (SGAN for 2-D): the grid's one bank of 64 sets of 2 → 400 in small, where most sets go unused,
// and a wide bank.
TEST(StochasticDeconv, LinearBanksEqualPerSampleSets) {
  torch::manual_seed(8);
  expect_bank_equals_per_sample_sets(linear_bank(2, 5, 64), torch::randn({30, 2}, torch::kDouble), 1);
  expect_bank_equals_per_sample_sets(linear_bank(256, 300, 3), torch::randn({64, 256}, torch::kDouble), 2);
  StochasticDeconv bank(linear_bank(2, 5, 4));
  EXPECT_THROW(bank->forward(torch::randn({2, 2}), torch::tensor({0, 4}, torch::kLong)), std::invalid_argument);
  EXPECT_THROW(bank->forward(torch::randn({2, 2}), torch::tensor({0}, torch::kLong)), std::invalid_argument);
}
