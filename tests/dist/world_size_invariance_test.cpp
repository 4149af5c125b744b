// World-size invariance: a small CNN trained 20 Adam steps on N ranks with
// per-rank batch B/N ends with the parameters of 1 process trained on batch
// B (computed here, in-process, without communication), also with a
// gradient penalty w.r.t. the input in the loss.
#include <gtest/gtest.h>

#include "dist/grad_sync.h"
#include "dist/replicas.h"
#include "dist/test_util.h"

using gantry::test::world;

namespace {

constexpr int kGlobalBatch = 12;
constexpr int kSteps = 20;

struct SmallCnnImpl : torch::nn::Module {
  SmallCnnImpl()
      : c1(register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3).stride(2).padding(1)))),
        c2(register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 3).stride(2).padding(1)))),
        fc(register_module("fc", torch::nn::Linear(16 * 3 * 3, 1))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return fc(torch::leaky_relu(c2(torch::leaky_relu(c1(x), 0.2)), 0.2).flatten(1));
  }
  torch::nn::Conv2d c1, c2;
  torch::nn::Linear fc;
};
TORCH_MODULE(SmallCnn);

std::pair<torch::Tensor, torch::Tensor> batch(int step) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234 + step);
  torch::Tensor x = at::randn({kGlobalBatch, 1, 10, 10}, gen);
  torch::Tensor y = (x.mean({1, 2, 3}) > 0).to(torch::kFloat).unsqueeze(1);
  return {x, y};
}

torch::Tensor step_loss(SmallCnn& net, torch::Tensor x, const torch::Tensor& y, bool penalty) {
  if (penalty) x = x.clone().requires_grad_(true);
  torch::Tensor out = net->forward(x);
  torch::Tensor loss = torch::binary_cross_entropy_with_logits(out, y);
  if (penalty) {  // WGAN-GP-style per-sample penalty: stays local, only leaf grads are reduced
    auto g = torch::autograd::grad({out.sum()}, {x}, {}, true, true)[0];
    loss = loss + 10 * (g.flatten(1).norm(2, 1) - 1).pow(2).mean();
  }
  return loss;
}

std::vector<torch::Tensor> train(bool distributed, bool penalty, bool overlap) {
  auto& w = world();
  torch::manual_seed(42);
  SmallCnn net;
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-2));
  const int n = distributed ? w.size() : 1, rank = distributed ? w.rank() : 0;
  const int local = kGlobalBatch / n;
  std::unique_ptr<gantry::dist::GradSync> sync;
  if (distributed) {
    gantry::dist::GradSyncOptions o;
    o.overlap = overlap;
    o.bucket_cap_bytes = 1024;  // several buckets even for this small net
    o.first_bucket_cap_bytes = 256;
    sync = std::make_unique<gantry::dist::GradSync>(*net, w.comm(), o);
  }
  for (int s = 0; s < kSteps; ++s) {
    auto [x, y] = batch(s);
    x = x.narrow(0, rank * local, local);
    y = y.narrow(0, rank * local, local);
    if (sync) {
      sync->begin();
    } else {
      opt.zero_grad();
    }
    step_loss(net, x, y, penalty).backward();
    if (sync) sync->finish();
    opt.step();
  }
  if (distributed) {
    auto report = gantry::dist::check_consistency(*net, w.comm());
    EXPECT_TRUE(report.consistent) << report.message();
  }
  std::vector<torch::Tensor> out;
  for (auto& p : net->parameters()) out.push_back(p.detach().clone());
  return out;
}

void expect_invariant(bool penalty, bool overlap) {
  const auto reference = train(false, penalty, overlap);
  const auto distributed = train(true, penalty, overlap);
  double worst = 0;
  for (std::size_t i = 0; i < reference.size(); ++i) {
    worst = std::max(worst, (reference[i] - distributed[i]).abs().max().item<double>());
  }
  EXPECT_LE(worst, 1e-5) << "world size " << world().size();
  // The parameters moved: the comparison is not between two untouched inits.
  torch::manual_seed(42);
  SmallCnn init;
  ASSERT_EQ(distributed.size(), 6u);  // c1.w, c1.b, c2.w, c2.b, fc.w, fc.b
  EXPECT_GT((init->fc->weight - distributed[4]).abs().max().item<double>(), 1e-3);
}

TEST(WorldSizeInvariance, AdamTwentySteps) { expect_invariant(false, true); }
TEST(WorldSizeInvariance, AdamTwentyStepsWithGradientPenalty) { expect_invariant(true, true); }
TEST(WorldSizeInvariance, AdamTwentyStepsWithoutOverlap) { expect_invariant(true, false); }

}  // namespace
