// Cross-sample techniques over real ranks: minibatch discrimination, feature
// matching and synchronized batch norm on W ranks (each holding B/W rows of
// one global batch) equal the 1-rank computation on the whole batch —
// outputs, input gradients, parameter gradients (summed over ranks, the
// per-rank losses being sums over their rows) and BN running statistics.
#include <gtest/gtest.h>

#include <map>
#include <torch/torch.h>

#include "dist/communicator.h"
#include "dist/test_util.h"
#include "models/batch_norm.h"
#include "models/minibatch_discrimination.h"
#include "models/networks.h"
#include "reg/feature_matching.h"
#include "train/precision.h"
#include "train/standing_stats.h"

using namespace gantry;

namespace {

constexpr int64_t kGlobal = 12;  // divisible by 1..4

// This rank's rows of a global tensor.
torch::Tensor my_rows(const torch::Tensor& global) {
  auto& w = test::world();
  const int64_t n = global.size(0) / w.size();
  return global.narrow(0, w.rank() * n, n);
}

torch::Tensor summed_over_ranks(torch::Tensor t) {
  t = t.contiguous().clone();
  test::world().comm().all_reduce(t, dist::ReduceOp::kSum);
  return t;
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  EXPECT_TRUE(torch::allclose(a, b, 1e-10, 1e-12)) << what << ": max |diff| " << (a - b).abs().max().item<double>();
}

// A small DCGAN (28x28, 1 channel, z 8) with batch norm in G.
models::ModelConfig small_dcgan(int64_t width) {
  models::ModelConfig c;
  c.arch = models::Arch::kDcgan;
  c.resolution = 28;
  c.channels = 1;
  c.z_dim = 8;
  c.g_width = width;
  c.d_width = width;
  c.g_norm = models::NormKind::kBatch;
  c.d_weight_norm = models::WeightNorm::kNone;
  return c;
}

// The same G and D built twice from one seed: for 1 rank (no communicator) and for W ranks.
struct OneAndMany {
  std::shared_ptr<models::Generator> g1, gw;
  std::shared_ptr<models::Discriminator> d1, dw;
};
OneAndMany build_one_and_many(const models::ModelConfig& c, uint64_t seed) {
  OneAndMany n;
  torch::manual_seed(seed);
  n.g1 = models::build_generator(c);
  n.d1 = models::build_discriminator(c);
  torch::manual_seed(seed);
  n.gw = models::build_generator(c, &test::world().comm());
  n.dw = models::build_discriminator(c, &test::world().comm());
  return n;
}

// check(name, gradient summed over the W ranks, 1-rank gradient) for every parameter of G and D.
template <class Check>
void for_each_parameter_gradient(const OneAndMany& n, Check check) {
  for (const auto& [prefix, one, many] : {std::tuple{"G.", n.g1->named_parameters(), n.gw->named_parameters()},
                                          std::tuple{"D.", n.d1->named_parameters(), n.dw->named_parameters()}})
    for (const auto& p : one) check(prefix + p.key(), summed_over_ranks(many[p.key()].grad()), p.value().grad());
}

}  // namespace

TEST(GlobalBatchLayers, MinibatchDiscriminationEqualsOneRank) {
  auto& comm = test::world().comm();
  torch::manual_seed(21);  // same parameters and data on every rank
  models::MinibatchDiscriminationOptions o;
  o.in_features = 6;
  o.kernels = 4;
  o.kernel_dim = 3;
  models::MinibatchDiscrimination one(o);
  o.sync = &comm;
  models::MinibatchDiscrimination many(o);
  one->to(torch::kDouble);
  many->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    one->named_parameters()["T"].mul_(4);
    many->named_parameters()["T"].copy_(one->named_parameters()["T"]);
  }
  const auto h = torch::randn({kGlobal, 6}, torch::kDouble);
  const auto coef = torch::randn({kGlobal, 10}, torch::kDouble);

  const auto h1 = h.clone().requires_grad_(true);
  const auto y1 = one->forward(h1);
  (y1 * coef).sum().backward();

  const auto hr = my_rows(h).clone().requires_grad_(true);
  const auto yr = many->forward(hr);
  (yr * my_rows(coef)).sum().backward();

  expect_close(yr, my_rows(y1), "output");
  expect_close(hr.grad(), my_rows(h1.grad()), "input gradient");
  expect_close(summed_over_ranks(many->named_parameters()["T"].grad()), one->named_parameters()["T"].grad(), "grad T");
}

TEST(GlobalBatchLayers, FeatureMatchingEqualsOneRank) {
  auto& comm = test::world().comm();
  torch::manual_seed(22);
  const auto real = torch::randn({kGlobal, 5}, torch::kDouble);
  const auto fake = torch::randn({kGlobal, 5}, torch::kDouble);
  const auto f1 = fake.clone().requires_grad_(true);
  const auto l1 = reg::feature_matching_loss(real, f1);
  l1.backward();
  const auto fr = my_rows(fake).clone().requires_grad_(true);
  const auto lr = reg::feature_matching_loss(my_rows(real), fr, reg::FeatureMatchingDistance::kSquaredL2, &comm);
  // Every rank holds the global loss; it enters the sum of per-rank losses once.
  (lr / test::world().size()).backward();
  expect_close(lr, l1, "loss");
  expect_close(fr.grad(), my_rows(f1.grad()), "gradient");
}

TEST(GlobalBatchLayers, SynchronizedBatchNormEqualsOneRank) {
  auto& comm = test::world().comm();
  torch::manual_seed(23);
  models::BatchNormOptions o;
  o.channels = 3;
  models::BatchNorm one(o);
  o.sync = &comm;
  models::BatchNorm many(o);
  one->to(torch::kDouble);
  many->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    auto g = torch::rand({3}, torch::kDouble) + 0.5;
    one->named_parameters()["weight"].copy_(g);
    many->named_parameters()["weight"].copy_(g);
  }
  for (int step = 0; step < 3; ++step) {  // running statistics over several steps
    const auto x = torch::randn({kGlobal, 3, 4, 4}, torch::kDouble) * (step + 1) + step;
    const auto coef = torch::randn(x.sizes(), torch::kDouble);
    for (auto* m : {&one, &many}) (*m)->zero_grad();
    const auto x1 = x.clone().requires_grad_(true);
    const auto y1 = one->forward(x1);
    (y1 * coef).sum().backward();
    const auto xr = my_rows(x).clone().requires_grad_(true);
    const auto yr = many->forward(xr);
    (yr * my_rows(coef)).sum().backward();
    expect_close(yr, my_rows(y1), "output");
    expect_close(xr.grad(), my_rows(x1.grad()), "input gradient");
    expect_close(summed_over_ranks(many->named_parameters()["weight"].grad()), one->named_parameters()["weight"].grad(),
                 "grad gamma");
    expect_close(summed_over_ranks(many->named_parameters()["bias"].grad()), one->named_parameters()["bias"].grad(),
                 "grad beta");
    expect_close(many->named_buffers()["running_mean"], one->named_buffers()["running_mean"], "running mean");
    expect_close(many->named_buffers()["running_var"], one->named_buffers()["running_var"], "running var");
  }
  // Eval uses the (identical) running statistics.
  one->eval();
  many->eval();
  const auto x = torch::randn({4, 3, 2, 2}, torch::kDouble);
  expect_close(many->forward(x), one->forward(x), "eval output");
}

TEST(GlobalBatchLayers, WholeNetworksWithSyncBatchNormAndMinibatchDiscriminationEqualOneRank) {
  // The builders wire the communicator into every cross-sample layer: a DCGAN
  // G with batch norm and a D with batch norm + minibatch discrimination, on
  // W ranks, reproduce the 1-rank forward and gradients.
  auto c = small_dcgan(8);
  c.d_norm = models::NormKind::kBatch;
  c.mbd_kernels = 6;
  const auto nets = build_one_and_many(c, 41);
  const auto& [g1, gw, d1, dw] = nets;
  for (auto* m : {static_cast<torch::nn::Module*>(g1.get()), static_cast<torch::nn::Module*>(d1.get()),
                  static_cast<torch::nn::Module*>(gw.get()), static_cast<torch::nn::Module*>(dw.get())})
    m->to(torch::kDouble);
  const auto z = torch::randn({kGlobal, 8}, torch::kDouble);
  const auto coef = torch::randn({kGlobal}, torch::kDouble);
  const auto l1 = d1->forward(g1->forward(z)).logits;
  (l1 * coef).sum().backward();
  const auto lw = dw->forward(gw->forward(my_rows(z))).logits;
  (lw * my_rows(coef)).sum().backward();
  expect_close(lw, my_rows(l1), "D(G(z))");
  for_each_parameter_gradient(nets, [](const std::string& name, const torch::Tensor& summed, const torch::Tensor& one) {
    expect_close(summed, one, ("grad " + name).c_str());
  });
  const auto ba = g1->named_buffers(), bb = gw->named_buffers();
  for (const auto& p : ba)
    if (p.value().is_floating_point()) expect_close(bb[p.key()], p.value(), ("G buffer " + p.key()).c_str());
}

TEST(GlobalBatchLayers, StandingStatisticsWithSyncBatchNormEqualOneRank) {
  // Evaluation's standing statistics (train/standing_stats.h): W ranks, each forwarding its share
  // of every pass's global batch through synchronized batch norm, end with the statistics one
  // process computes from the whole batches; the old ones come back afterwards on every rank.
  const auto nets = build_one_and_many(small_dcgan(8), 43);
  torch::NoGradGuard ng;
  for (auto* g : {nets.g1.get(), nets.gw.get()}) g->eval();
  std::map<std::string, torch::Tensor> kept;
  for (const auto& p : nets.gw->named_buffers()) kept[p.key()] = p.value().clone();
  {
    // 10 rows: uneven shares on 3 and 4 ranks (3/3/4, 2/3/2/3).
    train::StandingStatistics one(*nets.g1, 3, 10, 5, torch::kCPU, nullptr);
    train::StandingStatistics many(*nets.gw, 3, 10, 5, torch::kCPU, &test::world().comm());
    // Per-rank batch norm (a G built without the communicator, as `gantry eval` loads one): every
    // rank forwards the whole batches and gets one process's statistics bit for bit.
    torch::manual_seed(43);
    const auto g_local = models::build_generator(small_dcgan(8));
    g_local->eval();
    train::StandingStatistics local(*g_local, 3, 10, 5, torch::kCPU, &test::world().comm());
    const auto bl = g_local->named_buffers();
    for (const auto& p : nets.g1->named_buffers())
      EXPECT_TRUE(torch::equal(bl[p.key()], p.value())) << "per-rank batch norm, " << p.key();
    const auto ba = nets.g1->named_buffers(), bb = nets.gw->named_buffers();
    int compared = 0;
    for (const auto& p : ba) {
      if (!p.key().ends_with("running_mean") && !p.key().ends_with("running_var")) continue;
      EXPECT_TRUE(torch::allclose(bb[p.key()], p.value(), 1e-5, 1e-6))
          << p.key() << ": max |diff| " << (bb[p.key()] - p.value()).abs().max().item<double>();
      EXPECT_FALSE(torch::equal(bb[p.key()], kept[p.key()])) << p.key() << " unchanged";
      ++compared;
    }
    EXPECT_EQ(compared, 4);  // DCGAN-28 G: two batch norms, mean and variance each
  }
  for (const auto& p : nets.gw->named_buffers())
    EXPECT_TRUE(torch::equal(p.value(), kept[p.key()])) << p.key() << " not restored";
}

TEST(GlobalBatchLayers, WholeNetworksUnderBf16AutocastEqualOneRank) {
  // train.precision = "bf16": float32 parameters, forwards under autocast. W ranks
  // reproduce 1 rank to bf16's precision (8-bit mantissa, ~4e-3 per rounding), and
  // the forward really runs in bf16 (it differs from float32 by more than that).
  const auto nets = build_one_and_many(small_dcgan(16), 43);
  const auto& [g1, gw, d1, dw] = nets;
  const auto z = torch::randn({kGlobal, 8});
  const auto coef = torch::randn({kGlobal});
  auto run = [&](auto& g, auto& d, const torch::Tensor& zz, const torch::Tensor& cc) {
    torch::Tensor logits;
    {
      train::AutocastGuard autocast(torch::kCPU, true);
      logits = d->forward(g->forward(zz)).logits;
    }
    logits = logits.to(torch::kFloat);
    (logits * cc).sum().backward();
    return logits.detach();
  };
  const auto l1 = run(g1, d1, z, coef);
  const auto lw = run(gw, dw, my_rows(z), my_rows(coef));
  auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item<double>();
  };
  EXPECT_LT(rel(lw, my_rows(l1)), 2e-2) << "D(G(z)) rows";
  for_each_parameter_gradient(nets, [&](const std::string& name, const torch::Tensor& summed,
                                        const torch::Tensor& one) { EXPECT_LT(rel(summed, one), 5e-2) << name; });
  // The same 1-rank forward in float32 differs: autocast was in effect.
  torch::NoGradGuard ng;
  const auto l32 = d1->forward(g1->forward(z)).logits;
  EXPECT_GT(rel(l1, l32), 1e-3);
}
