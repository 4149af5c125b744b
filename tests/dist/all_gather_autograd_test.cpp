// Differentiable all_gather: a loss that couples every sample with the whole
// global batch gives, on N ranks with B/N samples each, the parameter
// gradients of 1 rank on the concatenated batch.
#include <gtest/gtest.h>

#include "dist/all_gather_autograd.h"
#include "dist/grad_sync.h"
#include "dist/test_util.h"

using gantry::test::world;

namespace {

constexpr int kGlobalBatch = 12;  // divisible by 1, 2, 3, 4

torch::Tensor global_input() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(77);
  return at::randn({kGlobalBatch, 6}, gen, torch::kDouble);
}

// Minibatch-discrimination-like coupling: o(i) = sum_j exp(-|h_i - h_j|_1) over the batch `all`.
torch::Tensor coupled_loss(const torch::Tensor& mine, const torch::Tensor& all) {
  torch::Tensor d = (mine.unsqueeze(1) - all.unsqueeze(0)).abs().sum(2);
  return torch::exp(-d).sum(1).pow(2).mean() + mine.pow(2).mean();
}

TEST(AllGatherWithGrad, MatchesSingleRankOnConcatenatedBatch) {
  auto& comm = world().comm();
  const int n = comm.size(), local = kGlobalBatch / n;
  torch::manual_seed(5);
  torch::nn::Linear lin(torch::nn::LinearOptions(6, 4));
  lin->to(torch::kDouble);

  // Reference: one process, full batch, no communication.
  torch::Tensor x_full = global_input().requires_grad_(true);
  torch::Tensor h_full = lin(x_full);
  coupled_loss(h_full, h_full).backward();
  std::vector<torch::Tensor> ref;
  for (auto& p : lin->parameters()) ref.push_back(p.grad().clone());
  torch::Tensor ref_x = x_full.grad().narrow(0, comm.rank() * local, local).clone();

  // Distributed: local rows, global coupling through the differentiable gather.
  gantry::dist::GradSync sync(*lin, comm);
  torch::Tensor x = global_input().narrow(0, comm.rank() * local, local).clone().requires_grad_(true);
  sync.begin();
  torch::Tensor h = lin(x);
  torch::Tensor h_all = gantry::dist::all_gather_with_grad(h, comm);
  ASSERT_EQ(h_all.size(0), kGlobalBatch);
  coupled_loss(h, h_all).backward();
  sync.finish();
  auto params = lin->parameters();
  for (std::size_t i = 0; i < params.size(); ++i) {
    EXPECT_LE((params[i].grad() - ref[i]).abs().max().item<double>(), 1e-12) << i;
  }
  // Sum over ranks of the per-rank mean losses is N times the global mean loss.
  EXPECT_LE((x.grad() - ref_x * n).abs().max().item<double>(), 1e-12);
}

TEST(AllGatherWithGrad, ScalarAndGradcheckStyleFiniteDifference) {
  auto& comm = world().comm();
  // d/dv of sum_r (r+1) * v_r where v is gathered from scalars: finite differences agree.
  torch::Tensor v = torch::full({}, 0.5 + comm.rank(), torch::kDouble).requires_grad_(true);
  torch::Tensor all = gantry::dist::all_gather_with_grad(v, comm);
  ASSERT_EQ(all.size(0), comm.size());
  torch::Tensor w = torch::arange(1, comm.size() + 1, torch::kDouble);
  (all * w).pow(2).sum().backward();
  // Every rank computes the same loss, so the gradient is summed over ranks: size * d/dv_r.
  const double vr = 0.5 + comm.rank(), wr = comm.rank() + 1;
  EXPECT_NEAR(v.grad().item<double>(), comm.size() * 2 * wr * wr * vr, 1e-12);
}

}  // namespace
